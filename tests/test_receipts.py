"""The receipt (core/receipts.py): what it says, in figures and words, and its link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core import receipts


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (8000, "Rupees eight thousand only"),
        (24000, "Rupees twenty-four thousand only"),
        (2000, "Rupees two thousand only"),
        (100000, "Rupees one lakh only"),
        (123456, "Rupees one lakh twenty-three thousand four hundred fifty-six only"),
        (10_000_000, "Rupees one crore only"),
        (501, "Rupees five hundred one only"),
    ],
)
def test_amounts_in_words_the_indian_way(amount, words) -> None:
    assert receipts.rupees_in_words(amount) == words


def test_figures_with_indian_grouping() -> None:
    assert receipts.rupees(8000) == "Rs. 8,000"
    assert receipts.rupees(123456) == "Rs. 1,23,456"
    assert receipts.rupees(500) == "Rs. 500"


def data(**kw) -> receipts.ReceiptData:
    base = dict(
        number="VCK/2026-27/000007",
        donor_name="Arul Selvan",
        donor_pan="ABCPA1234K",
        donor_address="12 Gandhi Road, Villupuram 605602",
        amount=8000,
        mode="UPI via Razorpay",
        reference="pay_Pfixture0000001",
        paid_at=datetime(2026, 8, 15, 6, tzinfo=UTC),
        campaign="Villupuram office",
        cash=False,
        voided=False,
    )
    return receipts.ReceiptData(**(base | kw))


def test_a_receipt_says_everything_the_law_asks(base_settings) -> None:
    pdf = receipts.render_pdf(base_settings, data(), compress=False).decode("latin-1")
    for needed in (
        "VCK/2026-27/000007",
        "Arul Selvan",
        "ABCPA1234K",
        "Rs. 8,000",
        "Rupees eight thousand only",
        "UPI via Razorpay",
        "pay_Pfixture0000001",
        "15/08/2026",
        base_settings.party_pan,
        "80GGC",
    ):
        assert needed in pdf, needed


def test_a_cash_receipt_says_it_is_not_deductible(base_settings) -> None:
    pdf = receipts.render_pdf(
        base_settings, data(cash=True, mode="Cash", donor_pan=None), compress=False
    ).decode("latin-1")
    assert "not deductible" in pdf and "80GGC" not in pdf


def test_a_refunded_receipt_is_void_and_keeps_its_number(base_settings) -> None:
    pdf = receipts.render_pdf(base_settings, data(voided=True), compress=False).decode("latin-1")
    assert "VOID" in pdf and "VCK/2026-27/000007" in pdf


def test_a_tamil_name_is_not_lost(base_settings) -> None:
    pdf = receipts.render_pdf(base_settings, data(donor_name="அருள் செல்வன்"), compress=False).decode(
        "latin-1"
    )
    assert "see record VCK/2026-27/000007" in pdf


def test_the_link_is_signed_and_expires(base_settings) -> None:
    now = datetime.now(UTC)
    donation = uuid.uuid4()
    link = receipts.receipt_link(base_settings, donation, now)
    query = dict(p.split("=") for p in link.split("?")[1].split("&"))
    assert (
        receipts.check_link(base_settings, str(donation), query["e"], query["s"], now) == donation
    )
    later = now + timedelta(days=base_settings.receipt_link_days, seconds=1)
    assert receipts.check_link(base_settings, str(donation), query["e"], query["s"], later) is None
    assert (
        receipts.check_link(base_settings, str(uuid.uuid4()), query["e"], query["s"], now) is None
    )
    assert receipts.check_link(base_settings, "not-a-uuid", query["e"], query["s"], now) is None
