"""POST /webhooks/razorpay: Razorpay's real payloads (tests/fixtures/razorpay/), signed
with the real algorithm; forged, replayed, reordered and late events; the receipt link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import receipts
from core.models import (
    Donation,
    DonationCampaign,
    PaymentGatewayEvent,
    PaymentStatus,
    UnmatchedPayment,
)
from tests.donation_fixtures import (
    DONOR_PHONE,
    make_campaign,
    make_pending,
    payload,
    signed,
)


@pytest.fixture
def bot_settings(bot_settings, razorpay):
    return bot_settings.model_copy(update={"razorpay_api_base_url": razorpay.base_url})


async def post(client, bot, body: bytes, event_id: str | None = None, headers=None):
    """Post one webhook; wait for the receipt numbering it started (in the background)."""
    response = await client.post(
        "/webhooks/razorpay", data=body, headers=headers or signed(bot.settings, body, event_id)
    )
    await bot.drain()
    return response.status, (await response.json())


async def fresh(session, donation_id) -> Donation:
    donation = await session.get(Donation, donation_id, populate_existing=True)
    assert donation is not None
    return donation


async def collected(session, campaign_id) -> int:
    return int(
        await session.scalar(
            select(DonationCampaign.collected_amount).where(DonationCampaign.id == campaign_id)
        )
    )


async def test_forged_and_unsigned_webhooks_are_refused_and_nothing_is_stored(
    client, bot, session
) -> None:
    donation = await make_pending(session)
    await session.commit()
    body = payload("payment_link.paid")
    forged = signed(bot.settings, body) | {"X-Razorpay-Signature": "00" * 32}
    assert (await post(client, bot, body, headers=forged))[0] == 403
    unsigned = {"Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_x"}
    assert (await post(client, bot, body, headers=unsigned))[0] == 403
    # signed for another body: one byte changed after signing
    tampered = body.replace(b"800000", b"100", 1)
    assert (await post(client, bot, tampered, headers=signed(bot.settings, body)))[0] == 403
    assert await session.scalar(select(func.count()).select_from(PaymentGatewayEvent)) == 0
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.PENDING


async def test_unsigned_malformed_bodies_are_403_and_signed_unreadable_ones_held(
    client, bot, session
) -> None:
    for body in (b"not json", b"[]", b'{"event": "payment_link.paid"}'):
        assert (await post(client, bot, body, headers={"Content-Type": "application/json"}))[
            0
        ] == 403
    # Signed by the gateway but unreadable: a 4xx would be retried for 24 hours and then
    # disable the webhook, so it is answered 200 and held for the treasurer.
    for body in (b"not json", b"[]", b'{"event": "payment_link.paid"}'):
        status, answer = await post(client, bot, body)
        assert (status, answer["outcome"]) == (200, "held")
    body = payload("payment_link.paid")
    headers = signed(bot.settings, body)
    del headers["X-Razorpay-Event-Id"]
    assert (await post(client, bot, body, headers=headers))[0] == 200
    held = (await session.scalars(select(UnmatchedPayment.reason))).all()
    assert held == ["unreadable"] * 4
    assert await session.scalar(select(func.count()).select_from(PaymentGatewayEvent)) == 0


async def test_a_paid_link_is_applied_once_with_a_receipt_and_the_donor_thanked(
    client, bot, session, providers
) -> None:
    campaign = await make_campaign(session)
    donation = await make_pending(session, campaign_id=campaign.id)
    await session.commit()
    body = payload("payment_link.paid")
    assert await post(client, bot, body, "evt_paid_1") == (
        200,
        {"ok": True, "outcome": "paid"},
    )
    # the same event again, and the same payment under another event id: nothing changes
    assert (await post(client, bot, body, "evt_paid_1"))[1]["outcome"] == "duplicate"
    assert (await post(client, bot, body, "evt_paid_2"))[1]["outcome"] == "unchanged"
    paid = await fresh(session, donation.id)
    assert paid.payment_status is PaymentStatus.COMPLETED
    assert paid.transaction_id == "pay_Pfixture0000001"
    assert paid.payment_method == "upi"
    assert paid.receipt_number == "VCK/2026-27/000001"
    assert await collected(session, campaign.id) == 8000
    thanks = [m for m in providers.twilio.sent if m.get("To") == f"whatsapp:{DONOR_PHONE}"]
    assert len(thanks) == 1
    assert "VCK/2026-27/000001" in thanks[0]["Body"]
    assert "₹8,000" in thanks[0]["Body"]
    assert "/receipts/" in thanks[0]["Body"]
    # refunded later: the receipt is void and the donor is told so, once
    for _ in range(2):
        assert (await post(client, bot, payload("refund.processed")))[0] == 200
    assert (await fresh(session, paid.id)).payment_status is PaymentStatus.REFUNDED
    told = [m for m in providers.twilio.sent if m.get("To") == f"whatsapp:{DONOR_PHONE}"][1:]
    assert len(told) == 1 and "VCK/2026-27/000001" in told[0]["Body"]


async def test_events_out_of_order_never_move_a_donation_backwards(client, bot, session) -> None:
    campaign = await make_campaign(session)
    donation = await make_pending(session, campaign_id=campaign.id)
    await session.commit()
    # the refund arrives before the payment it refunds: kept, applied when the payment comes
    refund = await post(client, bot, payload("refund.processed"))
    assert refund == (200, {"ok": True, "outcome": "for_review"})
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.PENDING
    assert (await post(client, bot, payload("payment_link.paid")))[1]["outcome"] == "paid"
    refunded = await fresh(session, donation.id)
    assert refunded.payment_status is PaymentStatus.REFUNDED
    assert refunded.receipt_number == "VCK/2026-27/000001"  # kept, void
    assert refunded.receipt_voided_at is not None
    assert await collected(session, campaign.id) == 0
    # a late "expired" for the same link changes nothing
    late = await post(client, bot, payload("payment_link.expired"))
    assert late[1]["outcome"] == "unchanged"
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.REFUNDED


async def test_a_paid_event_after_the_expiry_event_still_counts_the_money(
    client, bot, session
) -> None:
    donation = await make_pending(session)
    await session.commit()
    assert (await post(client, bot, payload("payment_link.expired")))[1]["outcome"] == "failed"
    assert (await post(client, bot, payload("payment.failed")))[1]["outcome"] == "ignored"
    assert (await post(client, bot, payload("payment_link.paid")))[1]["outcome"] == "paid"
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.COMPLETED


async def test_unknown_links_and_wrong_amounts_are_kept_for_review(client, bot, session) -> None:
    donation = await make_pending(session)
    await session.commit()
    stranger = payload("payment_link.paid", link_id="plink_NotOurs00000001")
    assert await post(client, bot, stranger) == (
        200,
        {"ok": True, "outcome": "for_review"},
    )
    short = payload("payment_link.paid", amount=100)
    assert (await post(client, bot, short))[1]["outcome"] == "for_review"
    reasons = sorted(await session.scalars(select(UnmatchedPayment.reason)))
    assert reasons == ["amount_mismatch", "unknown_link"]
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.PENDING


async def test_an_event_held_for_review_stays_held_when_its_link_appears_later(
    client, bot, session
) -> None:
    """The gateway's retry of an event already answered is a replay, whichever way it
    was answered: the one-statement path for paid links must not pay it now."""
    early = payload("payment_link.paid", link_id="plink_Late000000001")
    assert (await post(client, bot, early, "evt_held_1"))[1]["outcome"] == "for_review"
    donation = await make_pending(session, link_id="plink_Late000000001")
    await session.commit()
    assert (await post(client, bot, early, "evt_held_1"))[1]["outcome"] == "duplicate"
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.PENDING
    # a new event for it (the gateway's next attempt, or the reconciling fetch) pays it
    assert (await post(client, bot, early, "evt_held_2"))[1]["outcome"] == "paid"


async def test_receipts_are_gapless_in_commit_order(client, bot, session) -> None:
    first = await make_pending(session, link_id="plink_A000000000001", phone="+919840300051")
    second = await make_pending(session, link_id="plink_A000000000002", phone="+919840300052")
    await session.commit()
    for link in ("plink_A000000000002", "plink_A000000000001"):
        body = payload("payment_link.paid", link_id=link)
        assert (await post(client, bot, body))[1]["outcome"] == "paid"
    assert (await fresh(session, second.id)).receipt_number == "VCK/2026-27/000001"
    assert (await fresh(session, first.id)).receipt_number == "VCK/2026-27/000002"


async def test_the_receipt_pdf_is_served_by_a_signed_link_that_expires(
    client, bot, session
) -> None:
    donation = await make_pending(session)
    await session.commit()
    await post(client, bot, payload("payment_link.paid"))
    now = datetime.now(UTC)
    link = receipts.receipt_link(bot.settings, donation.id, now)
    path = link.removeprefix(bot.settings.public_base_url)
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "application/pdf"
    pdf = await response.read()
    assert pdf.startswith(b"%PDF")
    assert (await client.get(path.replace("s=", "s=0"))).status == 403
    other = receipts.receipt_link(bot.settings, donation.id, now - timedelta(days=30))
    assert (await client.get(other.removeprefix(bot.settings.public_base_url))).status == 403
    unpaid = await make_pending(session, link_id="plink_Unpaid00000001", phone="+919840300053")
    await session.commit()
    unpaid_link = receipts.receipt_link(bot.settings, unpaid.id, now)
    assert (await client.get(unpaid_link.removeprefix(bot.settings.public_base_url))).status == 404


async def test_the_fake_delivers_twice_late_and_retries_until_accepted(
    client, bot, session, razorpay
) -> None:
    """The fake gateway end to end: a link made through its API, paid, its webhooks
    delivered twice each after a delay, one refused first (503 from a closed door)."""
    razorpay.webhook_url = str(client.make_url("/webhooks/razorpay"))
    donation = await make_pending(session, link_id="placeholder")
    await session.commit()
    from core.payments import RazorpayClient

    gateway = RazorpayClient(bot.settings)
    link = await gateway.create_link(
        amount_paise=800000,
        reference_id=donation.id.hex,
        description="d",
        name="n",
        contact=DONOR_PHONE,
        expire_by=datetime.now(UTC) + timedelta(hours=1),
        notes={},
    )
    donation = await fresh(session, donation.id)
    donation.payment_link_id = link.id
    await session.commit()
    assert link.short_url.startswith("https://")
    razorpay.pay(link.id, twice=True, delay=0.05, paid_event_first=False)
    await razorpay.drain()
    await bot.drain()
    paid = [d for d in razorpay.deliveries if d.event == "payment_link.paid"]
    assert len(paid) == 2 and all(d.statuses[-1] == 200 for d in paid)
    assert (await fresh(session, donation.id)).payment_status is PaymentStatus.COMPLETED
    assert (
        await session.scalar(select(func.count()).select_from(PaymentGatewayEvent)) == 2
    )  # paid and captured, once each
    state = await gateway.fetch_link(link.id)
    assert state.status == "paid" and state.payment is not None
    await gateway.close()
    outcomes = json.loads(json.dumps([d.statuses for d in razorpay.deliveries]))
    assert all(s[-1] == 200 for s in outcomes)


async def test_the_treasurer_sees_what_matched_nothing(
    client, bot, session, session_factory
) -> None:
    from cli.donations import unmatched

    await make_pending(session)
    await session.commit()
    await post(client, bot, payload("payment_link.paid", link_id="plink_NotOurs00000001"))
    lines = await unmatched(session_factory)
    assert len(lines) == 1
    assert "unknown_link" in lines[0] and "plink_NotOurs00000001" in lines[0]
    assert "800000" in lines[0]
