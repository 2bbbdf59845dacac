"""The treasurer's exports against totals worked out by hand (core/services/
donation_reports.py, ``vck donations form24a|receipts``).

Financial year 2026-27:
- Arul gives 8,000 three times (24,000; above 20,000 on the third, with his PAN then);
- Bala gives 15,000, then 10,000 that is refunded (kept: 15,000, not reported);
- Chitra gives 25,000 once;
- Devi gives 2,000 in cash to an official;
- Ezhil gave 21,000 in March 2026: the year before.
Form 24A: Arul's three and Chitra's one, 4 contributions, 49,000.
Register: 7 receipts (Bala's refunded one void), 6 valid, 66,000.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import select

from cli.donations import campaign_report, export
from core.models import Donation
from core.payments import PAID, REFUNDED, GatewayEvent
from core.services import donation_payments
from tests.donation_fixtures import make_campaign, make_pending
from tests.factories import make_member

ARUL, BALA, CHITRA, EZHIL = "+919840300301", "+919840300302", "+919840300303", "+919840300305"


async def pay(session, settings, link: str, amount: int, at: datetime, payment: str) -> None:
    event = GatewayEvent(
        f"evt_{link}",
        PAID,
        link_id=link,
        payment_id=payment,
        amount_paise=amount * 100,
        method="upi",
        at=at,
    )
    applied = await donation_payments.apply_event(session, event, now=at, settings=settings)
    assert applied.outcome is donation_payments.Outcome.PAID
    await donation_payments.number_receipts(session, now=at, settings=settings)


async def the_year(session, settings) -> None:
    campaign = await make_campaign(session)
    d = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    gifts = [
        (ARUL, "plink_arul1", 8000, d(2026, 5, 10, 6), None),
        (ARUL, "plink_arul2", 8000, d(2026, 8, 15, 6), None),
        (ARUL, "plink_arul3", 8000, d(2027, 1, 26, 6), "ABCPA1234K"),
        (BALA, "plink_bala1", 15000, d(2026, 6, 1, 6), None),
        (BALA, "plink_bala2", 10000, d(2026, 7, 1, 6), None),
        (CHITRA, "plink_chitra", 25000, d(2026, 11, 1, 6), "ABCPC1234K"),
        (EZHIL, "plink_ezhil", 21000, d(2026, 3, 20, 6), "ABCPE1234K"),
    ]
    for phone, link, amount, at, pan in gifts:
        row = await make_pending(
            session, link_id=link, amount=amount, phone=phone, campaign_id=campaign.id, chat=None
        )
        row.donor_name = {ARUL: "Arul", BALA: "Bala", CHITRA: "Chitra", EZHIL: "Ezhil"}[phone]
        row.donor_pan = pan
        row.donor_address = "12 Gandhi Road, Villupuram 605602" if pan else None
        await pay(session, settings, link, amount, at, f"pay_{link[6:]}")
    refund = GatewayEvent("evt_refund", REFUNDED, payment_id="pay_bala2", amount_paise=1_000_000)
    await donation_payments.apply_event(session, refund, now=d(2026, 7, 3), settings=settings)
    official = await make_member(session, phone="+919840300399")
    cash = await donation_payments.record_cash(
        session, official_id=official.id, donor_name="Devi", amount=2000, now=d(2026, 9, 9)
    )
    assert isinstance(cash, Donation)
    await session.commit()


async def test_form_24a_lists_each_gift_of_donors_above_20000_once(
    session, settings, session_factory
) -> None:
    await the_year(session, settings)
    text, summary = await export(session_factory, "form24a", "2026-27")
    rows = list(csv.reader(io.StringIO(text)))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[1] == "Name of the contributor" and "PAN" in header[3]
    assert [(r[1], r[6]) for r in body] == [
        ("Arul", "8000"),
        ("Arul", "8000"),
        ("Arul", "8000"),
        ("Chitra", "25000"),
    ]
    assert {r[3] for r in body} == {"ABCPA1234K", "ABCPC1234K"}  # the PAN given on the third
    assert all(r[2] for r in body)  # an address on every row
    assert [r[7] for r in body[:3]] == ["10/05/2026", "15/08/2026", "26/01/2027"]
    assert total[1] == "Total" and total[6] == "49000"
    assert "2 donors, 4 contributions" in summary


async def test_the_receipts_register_is_gapless_and_keeps_the_void_one(
    session, settings, session_factory
) -> None:
    await the_year(session, settings)
    text, summary = await export(session_factory, "receipts", "2026-27")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [r[0] for r in rows] == [f"VCK/2026-27/{n:06d}" for n in range(1, 8)]
    assert [r[8] for r in rows].count("void (refunded)") == 1
    assert sum(int(r[4]) for r in rows if r[8] == "valid") == 66000
    assert "6 valid" in summary
    cash = next(r for r in rows if r[5] == "Cash")
    assert cash[2] == "Devi" and cash[4] == "2000"
    last_year = await session.scalar(
        select(Donation.receipt_number).where(Donation.donor_phone == EZHIL)
    )
    assert last_year == "VCK/2025-26/000001"


async def test_campaign_report_adds_up(session, settings, session_factory) -> None:
    await the_year(session, settings)
    report = await campaign_report(session_factory, None)
    # 24,000 + 15,000 + 25,000 + 21,000 (refund taken off); cash went to the general fund
    assert "₹85,000" in report


async def test_cash_over_2000_is_refused(session) -> None:
    official = await make_member(session, phone="+919840300398")
    refused = await donation_payments.record_cash(
        session, official_id=official.id, donor_name="X", amount=2001, now=datetime.now(UTC)
    )
    assert refused is donation_payments.CashRefused.OVER_LIMIT


async def test_the_cli_writes_the_file(session, settings, db_url, tmp_path) -> None:
    await the_year(session, settings)
    out = tmp_path / "form24a.csv"
    env = os.environ | {"VCK_DATABASE_URL": db_url, "VCK_ENVIRONMENT": "test"}
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
            "donations",
            "form24a",
            "--fy",
            "2026-27",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "49,000" in done.stdout
    assert out.read_text().count("Arul") == 3
    bad = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
            "donations",
            "receipts",
            "--fy",
            "2026",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
