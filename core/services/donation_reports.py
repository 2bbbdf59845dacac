"""The treasurer's exports: Form 24A and the year's receipts register.

Form 24A (Election Commission): every contribution from a donor whose contributions in
the financial year add up to more than Rs 20,000, with the donor's name and complete
address, PAN, the mode, the amount and the date. Only money the party kept counts: a
refunded gift is left out (its voided receipt stays in the register). Donors are told
apart by phone, which is how the chat tracks each donor's yearly total; their PAN and
address are the latest they gave.

The register lists every receipt number of the year in order, void ones included, so a
gap would show.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import INDIA
from core.models import Donation, DonationCampaign, PaymentStatus
from core.services.donations import PAN_THRESHOLD, year_bounds

FORM_24A_COLUMNS = (
    "Sl. No.",
    "Name of the contributor",
    "Complete address of the contributor",
    "PAN of the contributor",
    "Mode of contribution",
    "Transaction reference",
    "Amount of contribution (Rs.)",
    "Date of contribution",
    "Receipt number",
)
REGISTER_COLUMNS = (
    "Receipt number",
    "Date",
    "Donor",
    "PAN",
    "Amount (Rs.)",
    "Mode",
    "Transaction reference",
    "Campaign",
    "Status",
)


@dataclass(frozen=True, slots=True)
class Contribution:
    donor_key: str
    name: str
    address: str
    pan: str
    mode: str
    reference: str
    amount: int
    day: date
    receipt: str


def _mode(method: str | None) -> str:
    return {"cash": "Cash", "upi": "UPI", "card": "Card", "netbanking": "Net banking"}.get(
        method or "", (method or "Electronic").title()
    )


async def _year(session: AsyncSession, fy: str) -> list[Donation]:
    start, end = year_bounds(fy)
    rows = await session.scalars(
        select(Donation)
        .where(
            Donation.receipt_number.is_not(None),
            Donation.completed_at >= start,
            Donation.completed_at < end,
        )
        .order_by(Donation.receipt_serial)
    )
    return list(rows)


async def form_24a(session: AsyncSession, fy: str) -> tuple[list[Contribution], int]:
    """The contributions to report, donor by donor, and their total."""
    kept = [d for d in await _year(session, fy) if d.payment_status == PaymentStatus.COMPLETED]
    by_donor: dict[str, list[Donation]] = {}
    for d in kept:
        by_donor.setdefault(d.donor_phone or d.donor_pan or str(d.id), []).append(d)
    rows: list[Contribution] = []
    for key, gifts in by_donor.items():
        if sum(int(g.amount) for g in gifts) <= PAN_THRESHOLD:
            continue
        pan = next((g.donor_pan for g in reversed(gifts) if g.donor_pan), "")
        address = next((g.donor_address for g in reversed(gifts) if g.donor_address), "")
        for g in gifts:
            assert g.completed_at is not None
            rows.append(
                Contribution(
                    key,
                    g.donor_name or "",
                    address or "",
                    pan or "",
                    _mode(g.payment_method),
                    g.transaction_id or "",
                    int(g.amount),
                    g.completed_at.astimezone(INDIA).date(),
                    g.receipt_number or "",
                )
            )
    rows.sort(key=lambda c: (c.name, c.day, c.receipt))
    return rows, sum(c.amount for c in rows)


def form_24a_csv(rows: list[Contribution], total: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FORM_24A_COLUMNS)
    for number, c in enumerate(rows, 1):
        writer.writerow(
            [
                number,
                c.name,
                c.address,
                c.pan,
                c.mode,
                c.reference,
                c.amount,
                c.day.strftime("%d/%m/%Y"),
                c.receipt,
            ]
        )
    writer.writerow(["", "Total", "", "", "", "", total, "", ""])
    return out.getvalue()


async def register_csv(session: AsyncSession, fy: str) -> tuple[str, int, int]:
    """The year's receipts as CSV, with the count of valid receipts and their total."""
    campaigns = dict(
        (await session.execute(select(DonationCampaign.id, DonationCampaign.name))).all()
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_COLUMNS)
    valid = total = 0
    for d in await _year(session, fy):
        void = d.receipt_voided_at is not None
        if not void:
            valid += 1
            total += int(d.amount)
        assert d.completed_at is not None
        writer.writerow(
            [
                d.receipt_number,
                d.completed_at.astimezone(INDIA).strftime("%d/%m/%Y"),
                d.donor_name or "",
                d.donor_pan or "",
                int(d.amount),
                _mode(d.payment_method),
                d.transaction_id or "",
                campaigns.get(d.campaign_id, "General fund") if d.campaign_id else "General fund",
                "void (refunded)" if void else "valid",
            ]
        )
    return out.getvalue(), valid, total
