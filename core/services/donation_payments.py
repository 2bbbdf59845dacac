"""What the gateway says happened to a donation, applied once (FACTS.md "Donations").

Razorpay delivers webhooks at least once and in any order, retries for 24 hours and
then gives up. So :func:`apply_event`, in one transaction:

- records the event id (``X-Razorpay-Event-Id``) first; an id seen before changes
  nothing (a replay);
- moves the donation forward only: pending → completed or failed, failed → completed
  (a paid event that arrives after the link's expiry event: the money came), completed
  → refunded. Nothing moves back: a late "expired" after "paid" is ignored;
- on payment: marks the donation completed in its financial year; right after, in a
  transaction of its own, :func:`number_receipts` gives it the year's next receipt
  number under the counter row's lock, adds it to the campaign's total (one UPDATE per
  campaign, no lost update) and writes the donor's thanks to the outbox;
- on refund: voids the receipt (its number stays) and takes the amount off the total;
- keeps for review, without failing the webhook, what matches nothing as it stands: a
  paid link we never made, an amount that differs, a partial refund, a refund whose
  payment we have not heard of yet (applied when the payment arrives).

The webhook tries the common case first, :func:`apply_paid_at_once`: a paid event seen
for the first time, for a waiting donation of that amount, in one statement on the
driver connection; anything else takes :func:`apply_event`.

Cash gifts (at most Rs 2,000) are recorded by an official with a receipt that says they
are not deductible (:func:`record_cash`). Nothing commits here: the caller does.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import effects, receipts
from core.channels.base import Channel
from core.config import Settings
from core.db import driver_connection
from core.i18n import _, format_money, use_language
from core.models import (
    Donation,
    DonationCampaign,
    PaymentGatewayEvent,
    PaymentStatus,
    UnmatchedPayment,
)
from core.payments import (
    CANCELLED,
    EXPIRED,
    PAID,
    PARTIALLY_PAID,
    REFUNDED,
    GatewayError,
    GatewayEvent,
    RazorpayClient,
)
from core.services.donations import CASH_LIMIT, financial_year, is_indian


class Outcome(enum.StrEnum):
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    DUPLICATE = "duplicate"
    UNCHANGED = "unchanged"
    """A real event that finds the donation already past it (forward-only)."""
    FOR_REVIEW = "for_review"
    IGNORED = "ignored"


@dataclass(slots=True)
class Applied:
    outcome: Outcome
    donation_id: uuid.UUID | None = None
    effect_ids: list[int] = field(default_factory=list)
    financial_year: str | None = None
    """The year a payment falls in, to number its receipt in."""


_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.FAILED: 1,
    PaymentStatus.COMPLETED: 2,
    PaymentStatus.REFUNDED: 3,
}


async def apply_event(
    session: AsyncSession, event: GatewayEvent, *, now: datetime, settings: Settings
) -> Applied:
    seen = await session.scalar(
        insert(PaymentGatewayEvent)
        .values(event_id=event.event_id, event=event.event, outcome="", received_at=now)
        .on_conflict_do_nothing()
        .returning(PaymentGatewayEvent.event_id)
    )
    if seen is None:
        return Applied(Outcome.DUPLICATE)
    if event.event == PAID:
        applied = await _paid(session, event, now=now, settings=settings)
    elif event.event in (EXPIRED, CANCELLED):
        applied = await _closed(session, event)
    elif event.event == REFUNDED:
        applied = await _refunded(session, event, now=now)
    elif event.event == PARTIALLY_PAID:  # our links refuse partial payment: look at it
        applied = await _for_review(session, event, "partially_paid", now)
    else:  # payment.captured, payment.failed (the link stays payable), anything new
        applied = Applied(Outcome.IGNORED)
    await session.execute(
        update(PaymentGatewayEvent)
        .where(PaymentGatewayEvent.event_id == event.event_id)
        .values(outcome=applied.outcome.value)
    )
    return applied


# The common case as one statement. The claim comes first and the UPDATE reads its
# RETURNING, so an event seen before moves nothing; the refund-first case, an unknown
# link, a different amount or a donation already past 'paid' update no row.
_PAID_AT_ONCE = """
WITH claimed AS (
    INSERT INTO payment_gateway_events (event_id, event, outcome, received_at)
    VALUES ($1, $2, 'paid', $3) ON CONFLICT DO NOTHING RETURNING event_id
), paid AS (
    UPDATE donations SET payment_status = 'completed', transaction_id = $5,
        payment_method = $6, completed_at = $7, financial_year = $8
    WHERE payment_link_id = $4 AND EXISTS (SELECT FROM claimed)
      AND coalesce(payment_status, 'pending') IN ('pending', 'failed')
      AND trunc(amount * 100) = $9
      AND NOT EXISTS (
          SELECT FROM unmatched_payments
          WHERE reason = 'refund_early' AND payment_id = $5 AND resolved_at IS NULL)
    RETURNING id
)
SELECT EXISTS (SELECT FROM claimed) AS claimed, (SELECT id FROM paid) AS id
"""


class _NotAtOnce(Exception):
    """Rolls the one-statement attempt back: the general path decides."""


async def apply_paid_at_once(
    engine: AsyncEngine, event: GatewayEvent, *, now: datetime
) -> Applied | None:
    """A paid event in one statement and its own transaction, when it is the common
    case (what :func:`apply_event` would do, without the ORM); ``None``, with nothing
    written, when it is not: the caller then runs :func:`apply_event`."""
    if event.event != PAID or event.link_id is None or event.amount_paise is None:
        return None
    paid_at = event.at or now
    fy = financial_year(paid_at)
    try:
        async with driver_connection(engine) as pg, pg.transaction():
            row = await pg.fetchrow(
                _PAID_AT_ONCE, event.event_id, event.event, now, event.link_id,
                event.payment_id, event.method or "upi", paid_at, fy, event.amount_paise,
            )  # fmt: skip
            if row["claimed"] and row["id"] is None:
                raise _NotAtOnce
    except _NotAtOnce:
        return None
    if not row["claimed"]:
        return Applied(Outcome.DUPLICATE)
    return Applied(Outcome.PAID, row["id"], financial_year=fy)


async def hold_for_review(
    session: AsyncSession, reason: str, *, event_id: str | None, now: datetime
) -> None:
    """A signed event that could not be read, kept for the treasurer (ids only)."""
    session.add(UnmatchedPayment(reason=reason, event_id=event_id, received_at=now))
    await session.flush()


async def _for_review(
    session: AsyncSession, event: GatewayEvent, reason: str, now: datetime
) -> Applied:
    session.add(
        UnmatchedPayment(
            reason=reason,
            event_id=event.event_id,
            payment_link_id=event.link_id,
            payment_id=event.payment_id,
            refund_id=event.refund_id,
            amount_paise=event.amount_paise,
            received_at=now,
        )
    )
    await session.flush()
    return Applied(Outcome.FOR_REVIEW)


async def _donation_by(session: AsyncSession, **where: str | None) -> Donation | None:
    ((column, value),) = where.items()
    if value is None:
        return None
    return await session.scalar(
        select(Donation).where(getattr(Donation, column) == value).with_for_update()
    )


async def next_receipt_serial(session: AsyncSession, fy: str) -> int:
    """The year's next serial; the counter row stays locked until the caller commits,
    so serials are handed out in commit order with no gap."""
    serial = await session.scalar(
        text(
            "INSERT INTO donation_receipt_counters (financial_year, last_serial) VALUES (:fy, 1)"
            " ON CONFLICT (financial_year) DO UPDATE"
            " SET last_serial = donation_receipt_counters.last_serial + 1 RETURNING last_serial"
        ),
        {"fy": fy},
    )
    assert serial is not None
    return int(serial)


async def _add_to_campaign(
    session: AsyncSession, campaign_id: uuid.UUID | None, amount: Decimal
) -> None:
    if campaign_id is not None:
        await session.execute(
            update(DonationCampaign)
            .where(DonationCampaign.id == campaign_id)
            .values(collected_amount=DonationCampaign.collected_amount + amount)
        )


async def _issue_receipt(session: AsyncSession, donation: Donation, paid_at: datetime) -> None:
    fy = financial_year(paid_at)
    serial = await next_receipt_serial(session, fy)
    donation.financial_year = fy
    donation.receipt_serial = serial
    donation.receipt_number = receipts.receipt_number(fy, serial)


async def _paid(
    session: AsyncSession, event: GatewayEvent, *, now: datetime, settings: Settings
) -> Applied:
    donation = await _donation_by(session, payment_link_id=event.link_id)
    if donation is None:
        return await _for_review(session, event, "unknown_link", now)
    status = PaymentStatus(donation.payment_status or PaymentStatus.PENDING)
    if _RANK[status] >= _RANK[PaymentStatus.COMPLETED]:
        return Applied(Outcome.UNCHANGED, donation.id)
    if event.amount_paise != int(donation.amount * 100):
        return await _for_review(session, event, "amount_mismatch", now)
    paid_at = event.at or now
    donation.payment_status = PaymentStatus.COMPLETED
    donation.transaction_id = event.payment_id
    donation.payment_method = event.method or "upi"
    donation.completed_at = paid_at
    donation.financial_year = financial_year(paid_at)
    await session.flush()
    applied = Applied(Outcome.PAID, donation.id, financial_year=donation.financial_year)
    early = await session.scalar(
        select(UnmatchedPayment)
        .where(
            UnmatchedPayment.reason == "refund_early",
            UnmatchedPayment.payment_id == event.payment_id,
            UnmatchedPayment.resolved_at.is_(None),
        )
        .with_for_update()
    )
    if early is not None:  # the refund came first: apply it now, as its event asked
        early.resolved_at = now
        refund = GatewayEvent(
            early.event_id or "",
            REFUNDED,
            payment_id=early.payment_id,
            refund_id=early.refund_id,
            amount_paise=early.amount_paise,
        )
        await _refunded(session, refund, now=now)
    return applied


# --- receipt numbers, in batches ----------------------------------------------------------

_UNNUMBERED = (
    "receipt_serial IS NULL AND payment_status IN ('completed', 'refunded')"
    " AND financial_year IS NOT NULL"
)


async def number_receipts(
    session: AsyncSession, *, now: datetime, settings: Settings, years: list[str] | None = None
) -> list[int]:
    """Give every paid donation without a receipt number the next numbers of its
    financial year, in the order they were paid, add them to their campaigns' totals
    and write each donor's thanks; the outbox ids, to deliver after the commit.

    The year's counter row is locked for the rest of the caller's transaction: numbers
    are handed out in commit order, with no gap, never twice. Every payment is numbered
    by whichever webhook's numbering runs first after its commit (under load one batch
    numbers many: the counter is the one row all payments share), or by the
    reconciling cron after a crash between the two. ``years``: only these financial
    years (the webhook knows its payment's), else every year with such gifts."""
    if years is None:
        found = await session.scalars(
            text(f"SELECT DISTINCT financial_year FROM donations WHERE {_UNNUMBERED}")
        )
        years = sorted(found.all())
    effect_ids: list[int] = []
    for fy in years:
        lock = text(
            "SELECT last_serial FROM donation_receipt_counters WHERE financial_year = :fy"
            " FOR UPDATE"
        )
        last = await session.scalar(lock, {"fy": fy})
        if last is None:  # the year's first receipt
            await session.execute(
                text(
                    "INSERT INTO donation_receipt_counters (financial_year, last_serial)"
                    " VALUES (:fy, 0) ON CONFLICT (financial_year) DO NOTHING"
                ),
                {"fy": fy},
            )
            last = await session.scalar(lock, {"fy": fy})
        rows = (
            await session.execute(
                text(
                    "SELECT id, amount, campaign_id, chat_channel, chat_address, language"
                    f" FROM donations WHERE financial_year = :fy AND {_UNNUMBERED}"
                    " ORDER BY completed_at, id"
                ),
                {"fy": fy},
            )
        ).all()
        if not rows:  # another numbering took them while this one waited for the lock
            continue
        serials = list(range(int(last or 0) + 1, int(last or 0) + 1 + len(rows)))
        numbers = [receipts.receipt_number(fy, n) for n in serials]
        await session.execute(
            text(
                "UPDATE donations AS d SET receipt_serial = u.serial, receipt_number = u.number"
                " FROM unnest(CAST(:ids AS uuid[]), CAST(:serials AS int[]),"
                "             CAST(:numbers AS text[])) AS u(id, serial, number)"
                " WHERE d.id = u.id"
            ),
            {"ids": [r.id for r in rows], "serials": serials, "numbers": numbers},
        )
        await session.execute(
            text(
                "UPDATE donation_receipt_counters SET last_serial = :last"
                " WHERE financial_year = :fy"
            ),
            {"fy": fy, "last": serials[-1]},
        )
        by_campaign: dict[uuid.UUID, Decimal] = {}
        for r in rows:
            if r.campaign_id is not None:
                by_campaign[r.campaign_id] = by_campaign.get(r.campaign_id, Decimal(0)) + r.amount
        for campaign_id, amount in sorted(by_campaign.items()):
            await _add_to_campaign(session, campaign_id, amount)
        for r, number in zip(rows, numbers, strict=True):
            if r.chat_channel and r.chat_address:
                effect_ids.append(
                    await _thank(
                        session, r.id, int(r.amount), number, r, now=now, settings=settings
                    )
                )
    return effect_ids


async def _thank(
    session: AsyncSession,
    donation_id: uuid.UUID,
    amount: int,
    number: str,
    row: Any,
    *,
    now: datetime,
    settings: Settings,
) -> int:
    with use_language(row.language or "ta"):
        thanks = _(
            "Thank you! We received your donation of {amount}. Your receipt {number}: {link}"
        ).format(
            amount=format_money(amount),
            number=number,
            link=receipts.receipt_link(settings, donation_id, now),
        )
    return await effects.record(
        session,
        effects.Kind.NOTICE,
        effects.notice(Channel(row.chat_channel), row.chat_address, thanks),
        now=now,
    )


async def _closed(session: AsyncSession, event: GatewayEvent) -> Applied:
    donation = await _donation_by(session, payment_link_id=event.link_id)
    if donation is None:
        return Applied(Outcome.IGNORED)
    if donation.payment_status != PaymentStatus.PENDING:
        return Applied(Outcome.UNCHANGED, donation.id)
    donation.payment_status = PaymentStatus.FAILED
    donation.notes = f"link {event.event.rsplit('.', 1)[-1]}"
    await session.flush()
    return Applied(Outcome.FAILED, donation.id)


async def _refunded(session: AsyncSession, event: GatewayEvent, *, now: datetime) -> Applied:
    donation = await _donation_by(session, transaction_id=event.payment_id)
    if donation is None:
        return await _for_review(session, event, "refund_early", now)
    if donation.payment_status == PaymentStatus.REFUNDED:
        return Applied(Outcome.UNCHANGED, donation.id)
    if donation.payment_status != PaymentStatus.COMPLETED:
        return await _for_review(session, event, "refund_unpaid", now)
    if event.amount_paise != int(donation.amount * 100):
        return await _for_review(session, event, "partial_refund", now)
    donation.payment_status = PaymentStatus.REFUNDED
    donation.refunded_at = event.at or now
    donation.receipt_voided_at = now
    await _add_to_campaign(session, donation.campaign_id, -donation.amount)
    await session.flush()
    if donation.receipt_number and donation.chat_channel and donation.chat_address:
        # Thanked with a receipt, so told that it no longer counts (a refund that came
        # before its payment was numbered is told nothing: its thanks says enough).
        with use_language(donation.language or "ta"):
            told = _("Your donation of {amount} was refunded. Receipt {number} is cancelled.")
            told = told.format(amount=format_money(int(donation.amount)),
                               number=donation.receipt_number)  # fmt: skip
        notice = effects.notice(Channel(donation.chat_channel), donation.chat_address, told)
        told_id = await effects.record(session, effects.Kind.NOTICE, notice, now=now)
        return Applied(Outcome.REFUNDED, donation.id, effect_ids=[told_id])
    return Applied(Outcome.REFUNDED, donation.id)


# --- cash -------------------------------------------------------------------------------


class CashRefused(enum.StrEnum):
    OVER_LIMIT = "over_limit"
    NOT_POSITIVE = "not_positive"
    FOREIGN_PHONE = "foreign_phone"


async def record_cash(
    session: AsyncSession,
    *,
    official_id: uuid.UUID,
    donor_name: str,
    amount: int,
    donor_phone: str | None = None,
    campaign_id: uuid.UUID | None = None,
    request_key: str | None = None,
    now: datetime,
) -> Donation | CashRefused:
    """A cash gift of at most Rs 2,000, received by an official: completed at once with
    a receipt number (the receipt says cash is not deductible)."""
    if amount <= 0:
        return CashRefused.NOT_POSITIVE
    if amount > CASH_LIMIT:
        return CashRefused.OVER_LIMIT
    if donor_phone is not None and not is_indian(donor_phone):
        return CashRefused.FOREIGN_PHONE
    if request_key:
        first = await session.scalar(select(Donation).where(Donation.request_key == request_key))
        if first is not None:
            return first
    donation = Donation(
        campaign_id=campaign_id,
        amount=Decimal(amount),
        currency="INR",
        payment_method="cash",
        payment_status=PaymentStatus.COMPLETED,
        donor_name=donor_name[:255],
        donor_phone=donor_phone,
        declared_at=now,
        completed_at=now,
        recorded_by=official_id,
        request_key=request_key,
        transaction_id=f"cash:{uuid.uuid4().hex[:12]}",
    )
    session.add(donation)
    await _issue_receipt(session, donation, now)
    await _add_to_campaign(session, campaign_id, Decimal(amount))
    await session.flush()
    return donation


# --- receipts, as data ------------------------------------------------------------------


async def receipt_data(
    session: AsyncSession, donation_id: uuid.UUID
) -> receipts.ReceiptData | None:
    row = (
        await session.execute(
            select(Donation, DonationCampaign.name)
            .outerjoin(DonationCampaign, DonationCampaign.id == Donation.campaign_id)
            .where(Donation.id == donation_id, Donation.receipt_number.is_not(None))
        )
    ).first()
    if row is None:
        return None
    donation, campaign = row
    cash = donation.payment_method == "cash"
    return receipts.ReceiptData(
        number=donation.receipt_number or "",
        donor_name=donation.donor_name or "",
        donor_pan=donation.donor_pan,
        donor_address=donation.donor_address,
        amount=int(donation.amount),
        mode="Cash" if cash else (f"{(donation.payment_method or 'upi').upper()} via Razorpay"),
        reference=donation.transaction_id or "",
        paid_at=donation.completed_at or donation.created_at or datetime.now(UTC),
        campaign=campaign or "General fund",
        cash=cash,
        voided=donation.receipt_voided_at is not None,
    )


# --- reconciling with the gateway -------------------------------------------------------


async def stale_links(
    session: AsyncSession, now: datetime, after: timedelta, limit: int = 100
) -> list[str]:
    rows = await session.scalars(
        select(Donation.payment_link_id)
        .where(
            Donation.payment_status == PaymentStatus.PENDING,
            Donation.payment_link_id.like("plink_%"),
            Donation.created_at < now - after,
        )
        .order_by(Donation.created_at)
        .limit(limit)
    )
    return [r for r in rows if r]


async def number_pending(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    settings: Settings,
    years: list[str] | None = None,
) -> list[int]:
    """:func:`number_receipts` in a transaction of its own."""
    async with session_factory() as session, session.begin():
        return await number_receipts(session, now=now, settings=settings, years=years)


async def reconcile(
    session_factory: async_sessionmaker[AsyncSession],
    gateway: RazorpayClient,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, int]:
    """Ask the gateway about links still unpaid after ``donation_reconcile_after_minutes``
    (a webhook lost, or our server down for longer than Razorpay retries): a paid link
    is applied as its webhook would be (``reconcile:<link>`` as the event id; the real
    webhook, when it comes, finds the donation paid and changes nothing), an expired or
    cancelled one is closed. The outbox sweep sends the thanks."""
    after = timedelta(minutes=settings.donation_reconcile_after_minutes)
    async with session_factory() as session:
        links = await stale_links(session, now, after)
    counts: dict[str, int] = {}
    for link_id in links:
        try:
            state = await gateway.fetch_link(link_id)
        except GatewayError:
            counts["unreachable"] = counts.get("unreachable", 0) + 1
            continue
        if state.status == "paid" and state.payment is not None:
            event = state.payment
        elif state.status in ("expired", "cancelled"):
            event = GatewayEvent(
                f"reconcile:{link_id}:{state.status}",
                f"payment_link.{state.status}",
                link_id=link_id,
            )
        else:
            counts["still_open"] = counts.get("still_open", 0) + 1
            continue
        async with session_factory() as session, session.begin():
            applied = await apply_event(session, event, now=now, settings=settings)
        counts[applied.outcome.value] = counts.get(applied.outcome.value, 0) + 1
    await number_pending(session_factory, now=now, settings=settings)  # after a crash too
    return counts
