"""The Indian DLT SMS provider (Exotel-shaped): what is sent, DLT rejections, inbound SMS,
webhook signatures and delivery reports, against the in-process fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from core.channels.base import Channel, SendError
from core.channels.dlt import (
    REPLAY_WINDOW_SECONDS,
    DltSender,
    classify,
    parse_inbound,
    parse_status_callback,
    verify_webhook,
)
from core.channels.dlt import sign as dlt_sign
from core.channels.errors import DeliveryStatus, MalformedPayload
from core.config import Settings, load_settings
from fakes.dlt import FakeDlt, inbound_sms_form, signed_request, status_callback_form

NOW = datetime(2026, 1, 26, 4, 30, tzinfo=UTC)
MEMBER = "+919876543210"
TEMPLATE = "1107000000000000003"
SECRET = "dlt-webhook-secret"


@pytest.fixture
def base() -> Settings:
    return load_settings(
        environment="test",
        dlt_account_sid="vck-test",
        dlt_api_key="key-1",
        dlt_api_token=SecretStr("token-1"),
        dlt_sender_id="VCKPTY",
        dlt_entity_id="1101000000000000000",
        dlt_webhook_secret=SecretStr(SECRET),
        provider_timeout_seconds=2.0,
    )


@pytest.fixture
async def fake(base: Settings) -> AsyncIterator[FakeDlt]:
    fake = FakeDlt.from_settings(
        base, templates={TEMPLATE: None}
    )  # any text: not about DLT templates
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(base: Settings, fake: FakeDlt) -> Settings:
    return base.model_copy(update={"dlt_api_base_url": fake.base_url})


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[DltSender]:
    sender = DltSender(settings)
    yield sender
    await sender.close()


# --- sending ------------------------------------------------------------------------


async def test_tamil_goes_as_unicode_with_every_dlt_field(sender: DltSender, fake: FakeDlt) -> None:
    text = "வணக்கம்! உங்கள் OTP 123456"
    result = await sender.send(
        MEMBER,
        text,
        template_id=TEMPLATE,
        status_callback="https://bot.vck.example/webhooks/dlt/status",
        custom_field="delivery-42",
    )
    (sent,) = fake.sent
    assert sent["From"] == "VCKPTY"
    assert sent["To"] == MEMBER
    assert sent["Body"] == text
    assert sent["DltEntityId"] == "1101000000000000000"
    assert sent["DltTemplateId"] == TEMPLATE
    assert sent["EncodingType"] == "unicode"
    assert sent["StatusCallback"] == "https://bot.vck.example/webhooks/dlt/status"
    assert sent["CustomField"] == "delivery-42"
    assert result.provider_message_id == sent["Sid"]
    assert result.parts == 1


async def test_english_goes_as_plain_gsm(sender: DltSender, fake: FakeDlt) -> None:
    await sender.send(MEMBER, "Your OTP is 123456", template_id=TEMPLATE)
    assert fake.sent[0]["EncodingType"] == "plain"
    assert "StatusCallback" not in fake.sent[0] and "CustomField" not in fake.sent[0]


async def test_parts_are_counted_as_the_carrier_bills_them(
    sender: DltSender, fake: FakeDlt
) -> None:
    result = await sender.send(MEMBER, "க" * 71, template_id=TEMPLATE)
    assert result.parts == 2 == fake.sent[0]["SmsUnits"]


# --- DLT rejections and provider errors ----------------------------------------------


async def test_an_unregistered_template_is_rejected_with_630(
    sender: DltSender, fake: FakeDlt
) -> None:
    with pytest.raises(SendError) as caught:
        await sender.send(MEMBER, "hello", template_id="1107999999999999999")
    assert caught.value.permanent and caught.value.code == "630"
    assert "TEMPLATE_NOT_FOUND" in str(caught.value)
    assert fake.sent == []


async def test_text_that_does_not_match_the_template_is_rejected(
    settings: Settings, base: Settings
) -> None:
    fake = FakeDlt.from_settings(base, templates={TEMPLATE: "Your VCK OTP is {#var#}. -VCK"})
    await fake.start()
    sender = DltSender(settings.model_copy(update={"dlt_api_base_url": fake.base_url}))
    try:
        await sender.send(MEMBER, "Your VCK OTP is 123456. -VCK", template_id=TEMPLATE)
        with pytest.raises(SendError) as caught:
            await sender.send(MEMBER, "Vote for us! OTP 123456", template_id=TEMPLATE)
    finally:
        await sender.close()
        await fake.stop()
    assert caught.value.permanent and caught.value.code == "630"


async def test_an_entity_that_is_not_ours_is_rejected_with_601(
    settings: Settings, fake: FakeDlt
) -> None:
    sender = DltSender(settings.model_copy(update={"dlt_entity_id": "1101000000000000999"}))
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    finally:
        await sender.close()
    assert caught.value.permanent and caught.value.code == "601"


async def test_an_unregistered_header_is_rejected_with_620(
    settings: Settings, fake: FakeDlt
) -> None:
    sender = DltSender(settings.model_copy(update={"dlt_sender_id": "OTHERS"}))
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    finally:
        await sender.close()
    assert caught.value.code == "620" and "HEADER_NOT_FOUND" in str(caught.value)


async def test_a_per_recipient_dlt_rejection_surfaces_with_its_code(
    sender: DltSender, fake: FakeDlt
) -> None:
    fake.fail_for[MEMBER] = 622
    with pytest.raises(SendError) as caught:
        await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    assert caught.value.permanent and caught.value.code == "622"


async def test_provider_throttling_is_retried_after_retry_after(
    sender: DltSender, fake: FakeDlt
) -> None:
    fake.fail(times=1, status=429, retry_after=4)
    with pytest.raises(SendError) as caught:
        await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    assert not caught.value.permanent and caught.value.retry_after == 4.0
    await sender.send(MEMBER, "hello", template_id=TEMPLATE)  # recovered
    assert len(fake.sent) == 1


async def test_a_provider_500_is_retryable(sender: DltSender, fake: FakeDlt) -> None:
    fake.fail(times=1, status=500)
    with pytest.raises(SendError) as caught:
        await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    assert not caught.value.permanent


async def test_a_slow_provider_times_out_as_retryable(settings: Settings, fake: FakeDlt) -> None:
    sender = DltSender(settings.model_copy(update={"provider_timeout_seconds": 0.2}))
    fake.fail(times=1, delay=1.0, status=504)
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    finally:
        await sender.close()
    assert not caught.value.permanent and caught.value.code == "timeout"


async def test_wrong_credentials_are_permanent(settings: Settings, fake: FakeDlt) -> None:
    sender = DltSender(settings.model_copy(update={"dlt_api_token": SecretStr("wrong")}))
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(MEMBER, "hello", template_id=TEMPLATE)
    finally:
        await sender.close()
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (600, "ENTITY_NOT_FOUND"),
        (604, "INVALID_ENTITY_ID"),
        (610, "TELEMARKETER_NOT_REGISTERED"),
        (623, "PEID_NOT_MATCHED_WITH_HEADER"),
        (631, "TEMPLATE_INACTIVE"),
        (632, "TEMPLATE_BLACKLISTED"),
        (607, "entity"),
    ],
)
def test_dlt_codes_are_permanent_with_a_readable_reason(code: int, reason: str) -> None:
    error = classify(400, str(code), None)
    assert error.permanent and error.code == str(code)
    assert reason.lower() in str(error).lower()


def test_provider_status_mapping() -> None:
    assert not classify(429, None, "2").permanent
    assert classify(429, None, "2").retry_after == 2.0
    assert not classify(503, None, None).permanent
    assert classify(401, "UNAUTHORIZED", None).permanent


# --- inbound SMS and webhook signatures ----------------------------------------------


@pytest.mark.parametrize(
    "sender_number", ["09876543210", "919876543210", "+919876543210", "9876543210"]
)
def test_an_inbound_sms_is_addressed_in_e164(sender_number: str) -> None:
    form = inbound_sms_form(sender_number, "  உதவி ", sid="abc123")
    message = parse_inbound(form, received_at=NOW)
    assert message.channel == Channel.SMS
    assert message.provider == "dlt"
    assert message.address == MEMBER
    assert message.text == "உதவி"
    assert message.provider_message_id == "abc123"
    assert message.received_at == NOW


@pytest.mark.parametrize("broken", [{"SmsSid": ""}, {"From": ""}, {"From": "not-a-number"}])
def test_malformed_inbound_sms_is_refused(broken: dict[str, str]) -> None:
    form = {**inbound_sms_form(MEMBER, "hi"), **broken}
    with pytest.raises(MalformedPayload):
        parse_inbound(form)


def test_a_webhook_signed_with_the_shared_secret_is_accepted() -> None:
    raw, headers = signed_request(SECRET, inbound_sms_form(MEMBER, "வணக்கம்"))
    stamp = headers["X-VCK-Timestamp"]
    assert verify_webhook(SECRET, raw, headers["X-VCK-Signature"], stamp)
    assert verify_webhook(SECRET, raw, "sha256=" + headers["X-VCK-Signature"].upper(), stamp)


def test_a_tampered_unsigned_or_foreign_webhook_is_refused() -> None:
    raw, headers = signed_request(SECRET, inbound_sms_form(MEMBER, "1"))
    signature, stamp = headers["X-VCK-Signature"], headers["X-VCK-Timestamp"]
    assert not verify_webhook(SECRET, raw.replace(b"Body=1", b"Body=2"), signature, stamp)
    assert not verify_webhook(SECRET, raw, None, stamp)
    assert not verify_webhook(SECRET, raw, signature, None)
    assert not verify_webhook("other-secret", raw, signature, stamp)
    assert not verify_webhook("", raw, signature, stamp)
    # The timestamp is signed: moving it to now does not revive an old signature.
    assert not verify_webhook(SECRET, raw, signature, str(int(stamp) + 1))


def test_a_replayed_webhook_outside_the_window_is_refused() -> None:
    signed_at = 1_800_000_000
    raw, headers = signed_request(SECRET, inbound_sms_form(MEMBER, "1"), timestamp=signed_at)
    signature, stamp = headers["X-VCK-Signature"], headers["X-VCK-Timestamp"]
    window = REPLAY_WINDOW_SECONDS
    assert verify_webhook(SECRET, raw, signature, stamp, now=signed_at + window)
    assert verify_webhook(SECRET, raw, signature, stamp, now=signed_at - window)  # skew
    assert not verify_webhook(SECRET, raw, signature, stamp, now=signed_at + window + 1)
    for odd in ("", "-5", "1e9", "١٨٠٠٠٠٠٠٠٠", " 1800000000x", "9" * 40):
        assert not verify_webhook(SECRET, raw, signature, odd, now=signed_at)


def test_parsed_fields_can_be_verified_in_canonical_form() -> None:
    form = inbound_sms_form(MEMBER, "hi")
    stamp = "1800000000"
    signature = dlt_sign(SECRET, dict(reversed(form.items())), stamp)
    assert verify_webhook(SECRET, form, signature, stamp, now=1_800_000_000)


# --- delivery reports --------------------------------------------------------------


def test_delivery_reports_map_to_delivery_statuses() -> None:
    sent = parse_status_callback(status_callback_form("sid1", "09876543210", "sent"))
    assert (sent.provider_message_id, sent.status, sent.error_code, sent.address) == (
        "sid1",
        DeliveryStatus.SENT,
        None,
        MEMBER,
    )
    delivered = parse_status_callback({"SmsSid": "sid2", "Status": "delivered"})
    assert delivered.status == DeliveryStatus.DELIVERED


def test_dnd_failures_carry_their_code() -> None:
    dnd = parse_status_callback(status_callback_form("sid3", MEMBER, "failed_dnd"))
    assert (dnd.status, dnd.error_code, dnd.detail) == (
        DeliveryStatus.FAILED,
        "23005",
        "FAILED_DND",
    )
    bare = parse_status_callback({"SmsSid": "sid4", "Status": "failed-dnd"})
    assert (bare.status, bare.error_code) == (DeliveryStatus.FAILED, "dnd")


@pytest.mark.parametrize(
    "form", [{"Status": "sent"}, {"SmsSid": "x"}, {"SmsSid": "x", "Status": "lost"}]
)
def test_malformed_delivery_reports_are_refused(form: dict[str, str]) -> None:
    with pytest.raises(MalformedPayload):
        parse_status_callback(form)
