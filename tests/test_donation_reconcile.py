"""The reconciling cron (notifier/jobs.py ``reconcile_donations``): links unpaid for
too long are fetched from the gateway; a paid one is applied as its lost webhook
would have been, and the webhook that comes later changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from core.models import Donation, OutboxEffect, PaymentStatus
from core.payments import RazorpayClient, parse_event
from core.services import donations
from core.services.donation_payments import apply_event
from notifier import jobs
from notifier.bootstrap import build
from tests.memory_queue import MemoryQueue


async def test_a_paid_link_whose_webhook_was_lost_is_found_and_applied_once(
    settings, session, razorpay
) -> None:
    settings = settings.model_copy(update={"razorpay_api_base_url": razorpay.base_url})
    gateway = RazorpayClient(settings)
    gifts = []
    for n in range(3):
        phone = f"+91984030050{n}"
        gift = donations.Gift(
            phone=phone,
            name="Arul",
            amount=1000,
            campaign_id=None,
            declared=True,
            chat_channel="whatsapp",
            chat_address=phone,
        )
        gifts.append(
            await donations.request_link(
                session, gateway, gift, now=datetime.now(UTC), settings=settings
            )
        )
    await gateway.close()
    old = datetime.now(UTC) - timedelta(minutes=settings.donation_reconcile_after_minutes + 1)
    await session.execute(update(Donation).values(created_at=old))
    await session.commit()
    paid_link, expired_link, open_link = list(razorpay.links)
    bodies = razorpay.pay(paid_link, deliver=False)  # the webhook never arrives
    razorpay.expire(expired_link, deliver=False)
    deps = build(settings, MemoryQueue())
    try:
        assert await jobs.reconcile_donations(deps) == 3
        assert await jobs.reconcile_donations(deps) == 1  # the open one, asked again
    finally:
        await deps.close()
    statuses = dict(
        (await session.execute(select(Donation.payment_link_id, Donation.payment_status))).all()
    )
    assert statuses == {
        paid_link: PaymentStatus.COMPLETED,
        expired_link: PaymentStatus.FAILED,
        open_link: PaymentStatus.PENDING,
    }
    assert await session.scalar(select(func.count()).select_from(OutboxEffect)) == 1  # thanks
    # the webhook, late: nothing changes, no second receipt
    late = parse_event(bodies[0], "evt_late")
    applied = await apply_event(session, late, now=datetime.now(UTC), settings=settings)
    assert applied.outcome.value == "unchanged"
    receipts = await session.scalars(
        select(Donation.receipt_number).where(Donation.receipt_number.is_not(None))
    )
    assert len(list(receipts)) == 1
