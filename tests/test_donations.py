"""The law before a payment link (core/services/donations.py): amounts, PAN, the
financial year, foreign numbers, one open link per phone, a gateway that is down."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.models import Donation, PaymentStatus
from core.payments import RazorpayClient
from core.services import donations
from core.services.donations import AmountError, Gift, LinkReady, Refusal, Refused


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8000", 8000),
        ("8,000", 8000),
        ("₹8,000", 8000),
        ("Rs. 8000/-", 8000),
        ("௮௦௦௦", 8000),
        ("8000.00", 8000),
        ("1,00,000", 100_000),
        ("0", AmountError.NOT_POSITIVE),
        ("-500", AmountError.NOT_POSITIVE),
        ("500.50", AmountError.PAISE),
        ("5", AmountError.TOO_LOW),
        ("100001", AmountError.TOO_HIGH),
        ("five hundred", AmountError.NOT_A_NUMBER),
        ("", AmountError.NOT_A_NUMBER),
        ("1e5", AmountError.NOT_A_NUMBER),
    ],
)
def test_amounts_are_whole_rupees_within_the_bounds(typed, expected, base_settings) -> None:
    assert donations.parse_amount(typed, base_settings) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abcpe1234f", "ABCPE1234F"),
        (" ABCPE 1234 F ", "ABCPE1234F"),
        ("ABCPE1234", None),
        ("ABCP1234FF", None),
        ("ABCXE1234F", None),  # X is no holder kind
        ("ABCGE1234F", None),  # a government PAN: government companies may not donate
        ("1234567890", None),
    ],
)
def test_pan_format(typed, expected) -> None:
    assert donations.parse_pan(typed) == expected


def test_the_financial_year_turns_on_1_april_in_india() -> None:
    # 31 March 2027 23:59 in India is 18:29 UTC; 1 April 00:00 in India is 18:30 UTC.
    assert donations.financial_year(datetime(2027, 3, 31, 18, 29, tzinfo=UTC)) == "2026-27"
    assert donations.financial_year(datetime(2027, 3, 31, 18, 30, tzinfo=UTC)) == "2027-28"
    start, end = donations.year_bounds("2026-27")
    assert start == datetime(2026, 3, 31, 18, 30, tzinfo=UTC)
    assert end == datetime(2027, 3, 31, 18, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        donations.year_bounds("2026-28")


def gift(**kw) -> Gift:
    base = dict(
        phone="+919840300201",
        name="Arul",
        amount=8000,
        campaign_id=None,
        declared=True,
        chat_channel="whatsapp",
        chat_address="+919840300201",
    )
    return Gift(**(base | kw))


@pytest.fixture
async def gateway(settings, razorpay):
    client = RazorpayClient(
        settings.model_copy(update={"razorpay_api_base_url": razorpay.base_url})
    )
    yield client
    await client.close()


async def ask(session, gateway, settings, g: Gift) -> LinkReady | Refused:
    result = await donations.request_link(
        session, gateway, g, now=datetime.now(UTC), settings=settings
    )
    await session.commit()
    return result


async def test_a_link_is_the_gateways_https_short_url_in_paise(
    session, gateway, settings, razorpay
) -> None:
    ready = await ask(session, gateway, settings, gift())
    assert isinstance(ready, LinkReady) and not ready.again
    assert ready.url.startswith("https://") and "upi://" not in ready.url
    sent = razorpay.sent[0]
    assert sent["amount"] == 800000 and sent["currency"] == "INR"
    assert sent["accept_partial"] is False
    assert sent["customer"]["contact"] == "+919840300201"
    assert len(sent["notes"]) <= 15


async def test_a_second_donation_while_the_first_link_is_unpaid_gets_the_same_link(
    session, gateway, settings, razorpay
) -> None:
    first = await ask(session, gateway, settings, gift())
    again = await ask(session, gateway, settings, gift(amount=500))
    assert isinstance(first, LinkReady) and isinstance(again, LinkReady)
    assert again.again and again.url == first.url and again.amount == 8000
    assert len(razorpay.links) == 1
    assert await session.scalar(select(func.count()).select_from(Donation)) == 1


async def test_a_double_tap_creates_one_donation(session, gateway, settings, razorpay) -> None:
    one = await ask(session, gateway, settings, gift(request_key="k1"))
    two = await ask(session, gateway, settings, gift(request_key="k1"))
    assert isinstance(two, LinkReady) and two.donation_id == one.donation_id  # type: ignore[union-attr]
    assert len(razorpay.links) == 1


async def test_foreign_numbers_and_undeclared_gifts_are_refused(
    session, gateway, settings, razorpay
) -> None:
    assert await ask(session, gateway, settings, gift(phone="+12025550111")) == Refused(
        Refusal.FOREIGN_PHONE
    )
    assert await ask(session, gateway, settings, gift(declared=False)) == Refused(
        Refusal.NOT_DECLARED
    )
    assert await ask(session, gateway, settings, gift(amount=0)) == Refused(Refusal.BAD_AMOUNT)
    assert not razorpay.links


async def test_crossing_20000_in_a_year_needs_a_pan_first(
    session, gateway, settings, razorpay
) -> None:
    now = datetime.now(UTC)
    for _ in range(2):  # two paid gifts of 8,000
        session.add(
            Donation(
                amount=8000,
                donor_phone="+919840300201",
                donor_name="Arul",
                payment_status=PaymentStatus.COMPLETED,
                completed_at=now,
                financial_year=donations.financial_year(now),
            )
        )
    await session.commit()
    assert await ask(session, gateway, settings, gift()) == Refused(Refusal.NEEDS_PAN)
    assert await ask(session, gateway, settings, gift(amount=4000)) != Refused(Refusal.NEEDS_PAN)


async def test_a_gateway_that_is_down_stores_nothing(session, gateway, settings, razorpay) -> None:
    razorpay.fail(times=1, status=503)
    assert await ask(session, gateway, settings, gift()) == Refused(Refusal.GATEWAY_DOWN)
    assert await session.scalar(select(func.count()).select_from(Donation)) == 0
    assert isinstance(await ask(session, gateway, settings, gift()), LinkReady)
