"""Fixtures for donation tests: the fake Razorpay on loopback, its fixture payloads
(tests/fixtures/razorpay/, Razorpay's real webhook format) signed with the real
algorithm, and a donation waiting on a link."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.models import Donation, DonationCampaign, PaymentStatus
from core.payments import EVENT_ID_HEADER, SIGNATURE_HEADER, sign_webhook
from fakes.razorpay import FakeRazorpay

FIXTURES = Path(__file__).parent / "fixtures" / "razorpay"
LINK_ID = "plink_Pfixture0000001"
PAYMENT_ID = "pay_Pfixture0000001"
DONOR_PHONE = "+919840300042"


def payload(name: str, **replace: Any) -> bytes:
    """A fixture body, with ``replace`` swapped into its entities (``link_id``,
    ``amount``)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    for entity in data["payload"].values():
        inner = entity["entity"]
        if "link_id" in replace and inner.get("id", "").startswith("plink_"):
            inner["id"] = replace["link_id"]
        if "amount" in replace and "amount" in inner:
            inner["amount"] = replace["amount"]
            if "amount_paid" in inner:
                inner["amount_paid"] = replace["amount"]
    return json.dumps(data).encode()


def signed(settings: Settings, body: bytes, event_id: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_webhook(settings.razorpay_webhook_secret.get_secret_value(), body),
    }
    headers[EVENT_ID_HEADER] = event_id or f"evt_{uuid.uuid4().hex[:14]}"
    return headers


@pytest.fixture
async def razorpay(settings: Settings) -> AsyncIterator[FakeRazorpay]:
    fake = FakeRazorpay.from_settings(settings, retry_delays=(0.02, 0.05, 0.1))
    await fake.start()
    yield fake
    await fake.stop()


async def make_campaign(
    session: AsyncSession,
    *,
    name: str = "Election fund",
    unit_id: uuid.UUID | None = None,
    target: int | None = 100_000,
) -> DonationCampaign:
    campaign = DonationCampaign(
        name=name,
        unit_id=unit_id,
        target_amount=Decimal(target) if target else None,
        collected_amount=Decimal(0),
        start_date=datetime(2026, 4, 1).date(),
        is_active=True,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def make_pending(
    session: AsyncSession,
    *,
    link_id: str = LINK_ID,
    amount: int = 8000,
    phone: str = DONOR_PHONE,
    campaign_id: uuid.UUID | None = None,
    chat: tuple[str, str] | None = ("whatsapp", DONOR_PHONE),
) -> Donation:
    now = datetime.now(UTC)
    donation = Donation(
        amount=Decimal(amount),
        currency="INR",
        payment_gateway="razorpay",
        payment_status=PaymentStatus.PENDING,
        donor_name="Ilavarasi Murugan",
        donor_phone=phone,
        declared_at=now,
        financial_year="2026-27",
        language="ta",
        campaign_id=campaign_id,
        chat_channel=chat[0] if chat else None,
        chat_address=chat[1] if chat else None,
        payment_link_id=link_id,
        payment_url="https://rzp.io/rzp/Pfixture",
        link_expires_at=now + timedelta(hours=1),
    )
    session.add(donation)
    await session.flush()
    return donation
