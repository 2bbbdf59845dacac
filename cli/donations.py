"""``vck donations``: the treasurer's exports, campaigns, cash gifts and reconciling.

- ``vck donations form24a --fy 2026-27 --out FILE``: Form 24A (every contribution of a
  donor above Rs 20,000 that year) as CSV;
- ``vck donations receipts --fy 2026-27 --out FILE``: the year's receipts register;
- ``vck donations campaign create --name … [--unit TN.VPM] [--target 100000]
  [--start 2026-12-01] [--end …]`` and ``vck donations campaign report [ID]``;
- ``vck donations cash --as +91… --name … --amount 500 [--phone +91…]``: a cash gift of
  at most Rs 2,000 received by that official;
- ``vck donations reconcile``: ask the gateway about links unpaid for too long (the
  worker does it every few minutes);
- ``vck donations review``: what the gateway reported that matched no donation (an
  unknown link, a different amount, a partial refund), for the treasurer.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cli.common import with_database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    donations = sub.add_parser("donations", help="donations: exports, campaigns, cash")
    actions = donations.add_subparsers(dest="action", required=True)
    for name, helptext in (
        ("form24a", "Form 24A: donors above Rs 20,000 in a financial year (CSV)"),
        ("receipts", "every receipt of a financial year, void ones included (CSV)"),
    ):
        export = actions.add_parser(name, help=helptext)
        export.add_argument("--fy", required=True, help="financial year, e.g. 2026-27")
        export.add_argument("--out", required=True, type=Path, help="CSV file to write")
        export.set_defaults(handler=_export, export=name)

    campaign = actions.add_parser("campaign", help="create a campaign or see its progress")
    what = campaign.add_subparsers(dest="campaign_action", required=True)
    create = what.add_parser("create", help="a new campaign for a unit (or the whole party)")
    create.add_argument("--name", required=True)
    create.add_argument("--unit", help="unit code, e.g. TN.VPM (default: the whole party)")
    create.add_argument("--target", type=int, help="target in rupees")
    create.add_argument("--start", type=date.fromisoformat, help="YYYY-MM-DD (default today)")
    create.add_argument("--end", type=date.fromisoformat, help="YYYY-MM-DD")
    create.set_defaults(handler=_campaign_create)
    report = what.add_parser("report", help="a campaign's total, by unit; all when no id")
    report.add_argument("campaign_id", nargs="?", type=uuid.UUID)
    report.set_defaults(handler=_campaign_report)

    cash = actions.add_parser("cash", help="record a cash gift (at most Rs 2,000)")
    cash.add_argument("--as", dest="official", required=True, help="the official's phone")
    cash.add_argument("--name", required=True, help="the donor's name")
    cash.add_argument("--amount", required=True, type=int, help="whole rupees")
    cash.add_argument("--phone", help="the donor's phone (optional)")
    cash.add_argument("--campaign", type=uuid.UUID)
    cash.set_defaults(handler=_cash)

    reconcile = actions.add_parser("reconcile", help="check links unpaid for too long")
    reconcile.set_defaults(handler=_reconcile)

    review = actions.add_parser("review", help="payments that matched no donation, unresolved")
    review.set_defaults(handler=_review)


def _print_or_refuse(work: Any) -> int:
    """Print what ``work(session_factory, settings)`` returns; a ``LookupError`` it raises
    is the refusal said on stderr (exit code 1)."""
    try:
        print(with_database(work))
    except LookupError as exc:
        print(f"vck donations: {exc}", file=sys.stderr)
        return 1
    return 0


async def export(session_factory: Any, kind: str, fy: str) -> tuple[str, str]:
    """The CSV text and a one-line summary."""
    from core.i18n import format_money
    from core.services import donation_reports

    async with session_factory() as session:
        if kind == "form24a":
            rows, total = await donation_reports.form_24a(session, fy)
            donors = len({r.donor_key for r in rows})
            summary = f"Form 24A {fy}: {donors} donors, {len(rows)} contributions, total "
            return donation_reports.form_24a_csv(rows, total), summary + format_money(total)
        text, valid, total = await donation_reports.register_csv(session, fy)
        return text, f"receipts {fy}: {valid} valid, total {format_money(total)}"


def _export(args: argparse.Namespace) -> int:
    from core.services.donations import year_bounds

    try:
        year_bounds(args.fy)
    except ValueError as exc:
        print(f"vck donations: {exc}", file=sys.stderr)
        return 2
    text, summary = with_database(lambda factory, _settings: export(factory, args.export, args.fy))
    args.out.write_text(text, encoding="utf-8")
    print(f"{summary} -> {args.out}")
    return 0


def _campaign_create(args: argparse.Namespace) -> int:
    from core.services import donations

    async def work(factory: Any, _settings: Any) -> str:
        async with factory.begin() as session:
            campaign = await donations.create_campaign(
                session,
                name=args.name,
                unit_code=args.unit,
                target=args.target,
                start=args.start or datetime.now(UTC).date(),
                end=args.end,
            )
            return str(campaign.id)

    return _print_or_refuse(work)


async def campaign_report(session_factory: Any, campaign_id: uuid.UUID | None) -> str:
    from sqlalchemy import select

    from core.i18n import format_money
    from core.models import DonationCampaign
    from core.services import donations

    async with session_factory() as session:
        ids = (
            [campaign_id]
            if campaign_id
            else list(
                await session.scalars(
                    select(DonationCampaign.id).order_by(DonationCampaign.created_at)
                )
            )
        )
        lines = []
        for cid in ids:
            progress = await donations.campaign_progress(session, cid)
            if progress is None:
                raise LookupError(f"no campaign {cid}")
            target = f" of {format_money(progress.target)}" if progress.target else ""
            lines.append(
                f"{progress.name} ({progress.unit_code or 'whole party'}) {progress.id}: "
                f"{format_money(progress.collected)}{target}"
            )
            lines += [
                f"  {u.unit_code:<24} {u.donors:>5} donors  {format_money(u.amount)}"
                for u in progress.by_unit
            ]
        return "\n".join(lines) or "no campaigns"


def _campaign_report(args: argparse.Namespace) -> int:
    return _print_or_refuse(lambda factory, _s: campaign_report(factory, args.campaign_id))


def _cash(args: argparse.Namespace) -> int:
    from core import receipts
    from core.phones import normalise_phone
    from core.services import donation_payments, members

    async def work(factory: Any, settings: Any) -> str:
        now = datetime.now(UTC)
        async with factory.begin() as session:
            official = await members.find_by_phone(session, args.official)
            if official is None:
                raise LookupError("no member with that phone")
            phone = normalise_phone(args.phone) if args.phone else None
            result = await donation_payments.record_cash(
                session,
                official_id=official.id,
                donor_name=args.name,
                amount=args.amount,
                donor_phone=phone,
                campaign_id=args.campaign,
                now=now,
            )
            if isinstance(result, donation_payments.CashRefused):
                raise LookupError(f"refused: {result.value} (cash is at most Rs 2,000)")
            return f"{result.receipt_number} {receipts.receipt_link(settings, result.id, now)}"

    return _print_or_refuse(work)


def _reconcile(args: argparse.Namespace) -> int:
    from core.payments import RazorpayClient
    from core.services import donation_payments

    async def work(factory: Any, settings: Any) -> dict[str, int]:
        gateway = RazorpayClient(settings)
        try:
            return await donation_payments.reconcile(
                factory, gateway, now=datetime.now(UTC), settings=settings
            )
        finally:
            await gateway.close()

    print(with_database(work) or "nothing to reconcile")
    return 0


async def unmatched(session_factory: Any) -> list[str]:
    from sqlalchemy import select

    from core.i18n import INDIA
    from core.models import UnmatchedPayment

    async with session_factory() as session:
        rows = await session.scalars(
            select(UnmatchedPayment)
            .where(UnmatchedPayment.resolved_at.is_(None))
            .order_by(UnmatchedPayment.received_at)
        )
        return [
            f"{r.received_at.astimezone(INDIA):%Y-%m-%d %H:%M} IST  {r.reason:<16}"
            f" link={r.payment_link_id or '-'} payment={r.payment_id or '-'}"
            f" refund={r.refund_id or '-'}"
            f" paise={'-' if r.amount_paise is None else r.amount_paise}"
            for r in rows
        ]


def _review(args: argparse.Namespace) -> int:
    lines = with_database(lambda factory, _s: unmatched(factory))
    print("\n".join(lines) if lines else "nothing to review")
    return 0
