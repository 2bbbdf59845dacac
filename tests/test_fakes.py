"""The fake providers themselves: fail on demand then recover, latency, the JSON control
endpoints, callbacks signed as the real providers sign them, and running as a process."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web

from core.channels import dlt, telegram, twilio
from core.channels.base import Channel, Reply, SendError
from core.channels.errors import DeliveryStatus
from core.config import load_settings
from fakes.common import FakeProvider
from fakes.dlt import FakeDlt
from fakes.telegram import FakeTelegram, text_update
from fakes.twilio import FakeTwilio

MEMBER = "+919876543210"
TEMPLATE = "1107000000000000003"


class Receiver:
    """Our side of a webhook: records each POST with its headers and raw body."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.posts.append((request.path_qs, dict(request.headers), await request.read()))
        return web.Response(text="ok")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    await fake.start()
    yield fake
    await fake.stop()


async def _post(url: str, body: dict[str, Any] | None = None) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, json=body or {}) as resp:
        return resp.status


async def _sms(sender: twilio.TwilioSender) -> str:
    result = await sender.send_text(Channel.SMS, MEMBER, Reply("hi"))
    return result.provider_message_id


def _twilio_sender(fake: FakeTwilio, **overrides: Any) -> twilio.TwilioSender:
    settings = load_settings(
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_api_base_url=fake.base_url,
        **overrides,
    )
    return twilio.TwilioSender(settings)


# --- fail on demand ------------------------------------------------------------------


async def test_failing_the_next_n_requests_then_recovering(fake_twilio: FakeTwilio) -> None:
    sender = _twilio_sender(fake_twilio)
    fake_twilio.fail(times=2, status=500)
    try:
        for _ in range(2):
            with pytest.raises(SendError):
                await _sms(sender)
        await _sms(sender)
    finally:
        await sender.close()
    assert len(fake_twilio.sent) == 1
    assert fake_twilio.requests == 3
    assert fake_twilio.failure is None


async def test_failing_for_a_number_of_seconds_then_recovering(fake_twilio: FakeTwilio) -> None:
    sender = _twilio_sender(fake_twilio)
    fake_twilio.fail(seconds=0.3, status=503)
    try:
        for _ in range(3):
            with pytest.raises(SendError):
                await _sms(sender)
        await asyncio.sleep(0.35)
        await _sms(sender)
    finally:
        await sender.close()
    assert len(fake_twilio.sent) == 1


async def test_a_provider_error_code_can_be_injected(fake_twilio: FakeTwilio) -> None:
    sender = _twilio_sender(fake_twilio)
    fake_twilio.fail(times=1, status=400, code=21610)
    try:
        with pytest.raises(SendError) as caught:
            await _sms(sender)
    finally:
        await sender.close()
    assert caught.value.opted_out


async def test_latency_is_added_to_every_provider_response(fake_twilio: FakeTwilio) -> None:
    sender = _twilio_sender(fake_twilio)
    fake_twilio.latency = 0.05
    try:
        started = time.perf_counter()
        await _sms(sender)
        elapsed = time.perf_counter() - started
    finally:
        await sender.close()
    assert elapsed >= 0.05


async def test_reset_forgets_messages_and_failure_rules(fake_twilio: FakeTwilio) -> None:
    fake_twilio.sent.append({"To": MEMBER})
    fake_twilio.fail(times=5)
    fake_twilio.fail_for[MEMBER] = 63016
    fake_twilio.reset()
    assert (fake_twilio.sent, fake_twilio.failure, fake_twilio.fail_for) == ([], None, {})


# --- JSON control endpoints (out-of-process use) ---------------------------------------


async def test_control_endpoints_drive_a_fake_over_http(fake_twilio: FakeTwilio) -> None:
    base = fake_twilio.base_url
    sender = _twilio_sender(fake_twilio)
    try:
        assert (
            await _post(f"{base}/_fake/fail", {"times": 1, "status": 429, "retry_after": 2}) == 200
        )
        with pytest.raises(SendError) as caught:
            await _sms(sender)
        assert caught.value.retry_after == 2.0
        assert await _post(f"{base}/_fake/fail_for", {"address": MEMBER, "code": 21610}) == 200
        with pytest.raises(SendError) as opted_out:
            await _sms(sender)
        assert opted_out.value.opted_out
        assert await _post(f"{base}/_fake/fail_for", {"address": MEMBER, "code": None}) == 200
        sid = await _sms(sender)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/_fake/sent") as resp:
                recorded = await resp.json()
        assert [m["sid"] for m in recorded["sent"]] == [sid]
        assert await _post(f"{base}/_fake/latency", {"ms": 10}) == 200
        assert fake_twilio.latency == 0.01
        assert await _post(f"{base}/_fake/reset") == 200
        assert fake_twilio.sent == []
    finally:
        await sender.close()


async def test_a_repeated_idempotency_key_is_a_second_message_unless_asked(
    fake_twilio: FakeTwilio,
) -> None:
    """Like Twilio, Telegram and DLT providers, a fake ignores ``Idempotency-Key``;
    ``/_fake/idempotent`` (or ``idempotent=True``) makes it answer a repeat from memory."""
    sender = _twilio_sender(fake_twilio)
    try:
        first = await sender.send_text(Channel.SMS, MEMBER, Reply("hi"), idempotency_key="k1")
        again = await sender.send_text(Channel.SMS, MEMBER, Reply("hi"), idempotency_key="k1")
        assert first.provider_message_id != again.provider_message_id
        assert len(fake_twilio.sent) == 2 and fake_twilio.replayed == 0
        assert await _post(f"{fake_twilio.base_url}/_fake/idempotent", {"on": True}) == 200
        first = await sender.send_text(Channel.SMS, MEMBER, Reply("hi"), idempotency_key="k2")
        again = await sender.send_text(Channel.SMS, MEMBER, Reply("hi"), idempotency_key="k2")
        assert first.provider_message_id == again.provider_message_id
        assert len(fake_twilio.sent) == 3 and fake_twilio.replayed == 1
    finally:
        await sender.close()


async def test_twilio_lists_messages_by_to_and_date_sent(fake_twilio: FakeTwilio) -> None:
    """The Message list the notifier asks after a crash (``To``, ``DateSent>=``), read
    through the real SDK."""
    sender = _twilio_sender(fake_twilio)
    try:
        before = datetime.now(UTC)
        sid = await _sms(sender)
        await sender.send_text(Channel.SMS, "+447700900001", Reply("someone else"))
        await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("on WhatsApp"), idempotency_key="w")
        listed = await sender.sent_to(Channel.SMS, MEMBER, since=before)
        assert [(m.sid, m.body) for m in listed] == [(sid, "hi")]
        assert listed[0].date_sent is not None
        assert [m.body for m in await sender.sent_to(Channel.WHATSAPP, MEMBER, since=before)] == [
            "on WhatsApp"
        ]
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert await sender.sent_to(Channel.SMS, MEMBER, since=later) == []
        fake_twilio.fail(times=1, status=500)
        with pytest.raises(SendError):
            await sender.sent_to(Channel.SMS, MEMBER, since=before)
    finally:
        await sender.close()


# --- callbacks signed like the real providers --------------------------------------


async def test_twilio_status_callbacks_are_signed_and_parse(receiver: Receiver) -> None:
    fake = FakeTwilio(callbacks=True)
    await fake.start()
    sender = _twilio_sender(fake)
    callback = receiver.url + "/webhooks/twilio/status"
    fake.undeliverable["+919876543211"] = 63024
    try:
        ok = await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("hi"), status_callback=callback)
        bad = await sender.send_text(
            Channel.WHATSAPP, "+919876543211", Reply("hi"), status_callback=callback
        )
        await fake.drain()
    finally:
        await sender.close()
        await fake.stop()
    updates = {}
    for path, headers, raw in receiver.posts:
        form = _form(raw)
        assert twilio.verify_signature(
            fake.auth_token, receiver.url + path, form, headers.get("X-Twilio-Signature")
        )
        update = twilio.parse_status_callback(form)
        updates.setdefault(update.provider_message_id, []).append(update)
    assert [u.status for u in updates[ok.provider_message_id]] == [
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
    ]
    final = updates[bad.provider_message_id][-1]
    assert (final.status, final.error_code) == (DeliveryStatus.FAILED, "63024")


def _form(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


async def test_dlt_delivery_reports_are_signed_and_parse(receiver: Receiver) -> None:
    settings = load_settings(dlt_webhook_secret="s3cret")
    fake = FakeDlt.from_settings(settings, callbacks=True, templates={TEMPLATE: None})
    await fake.start()
    sender = dlt.DltSender(settings.model_copy(update={"dlt_api_base_url": fake.base_url}))
    fake.undeliverable["+919876543211"] = "dnd"
    callback = receiver.url + "/webhooks/dlt/status"
    try:
        await sender.send(
            MEMBER,
            "hi",
            template_id=TEMPLATE,
            status_callback=callback,
            custom_field="d-1",
        )
        await sender.send(
            "+919876543211",
            "hi",
            template_id=TEMPLATE,
            status_callback=callback,
        )
        await fake.drain()
    finally:
        await sender.close()
        await fake.stop()
    reports = []
    for _, headers, raw in receiver.posts:
        assert dlt.verify_webhook(
            "s3cret", raw, headers.get("X-VCK-Signature"), headers.get("X-VCK-Timestamp")
        )
        reports.append(dlt.parse_status_callback(_form(raw)))
    by_address = {r.address: r for r in reports}
    assert by_address[MEMBER].status == DeliveryStatus.SENT
    assert by_address["+919876543211"].status == DeliveryStatus.FAILED
    assert by_address["+919876543211"].error_code == "23005"


async def test_telegram_delivers_updates_with_the_secret_header(receiver: Receiver) -> None:
    fake = FakeTelegram()
    await fake.start()
    sender = telegram.TelegramSender(
        load_settings(telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url)
    )
    try:
        await sender.set_webhook(receiver.url + "/webhooks/telegram", "s3cret")
        assert await fake.deliver(text_update(77, 555, "வணக்கம்")) == 200
    finally:
        await sender.close()
        await fake.stop()
    ((path, headers, raw),) = receiver.posts
    assert path == "/webhooks/telegram"
    assert telegram.verify_secret("s3cret", headers.get("X-Telegram-Bot-Api-Secret-Token"))
    message = telegram.parse_update(json.loads(raw), received_at=datetime.now(UTC))
    assert message is not None and message.text == "வணக்கம்"


# --- as a process ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("module", ["fakes.twilio", "fakes.telegram", "fakes.dlt"])
async def test_each_fake_runs_as_a_process_with_control_endpoints(module: str) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        assert f"127.0.0.1:{port}" in line.decode()
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/_fake/sent") as resp:
                assert await resp.json() == {"sent": [], "requests": 0}
        assert await _post(f"{base}/_fake/reset") == 200
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


def test_every_fake_is_a_fake_provider() -> None:
    for fake in (FakeTwilio(), FakeTelegram(), FakeDlt()):
        assert isinstance(fake, FakeProvider)


async def test_the_fake_razorpay_checks_auth_and_amounts_like_razorpay(settings) -> None:
    import base64

    from fakes.razorpay import FakeRazorpay

    fake = FakeRazorpay.from_settings(settings)
    base = await fake.start()
    try:

        def basic(password: str) -> dict[str, str]:
            token = base64.b64encode(f"{settings.razorpay_key_id}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}

        auth = basic("wrong")
        async with aiohttp.ClientSession() as client:
            async with client.post(
                f"{base}/v1/payment_links", json={"amount": 500}, headers=auth
            ) as r:
                assert r.status == 401
            good = basic(settings.razorpay_key_secret.get_secret_value())
            for amount in (50, "500", 500.5):
                async with client.post(
                    f"{base}/v1/payment_links", json={"amount": amount}, headers=good
                ) as r:
                    assert r.status == 400
                    assert (await r.json())["error"]["field"] == "amount"
            async with client.post(
                f"{base}/v1/payment_links", headers=good, json={"amount": 50000, "currency": "USD"}
            ) as r:
                assert r.status == 400
            async with client.get(f"{base}/v1/payment_links/plink_none", headers=good) as r:
                assert r.status == 400
    finally:
        await fake.stop()


async def test_the_fake_razorpay_speaks_the_documented_shapes(settings) -> None:
    """Shapes from Razorpay's docs (fakes/razorpay.py, "Wire formats"): a refused key is
    a bare 401, an unknown link a 400 without ``field``; a failed attempt and the
    later payment share the link's order; a full refund leaves the payment captured
    with ``refund_status`` full; a webhook whose retries run out is disabled."""
    import base64
    import json

    from fakes.razorpay import FakeRazorpay

    fake = FakeRazorpay.from_settings(settings, retry_delays=(0.01,))
    base = await fake.start()
    try:
        secret = settings.razorpay_key_secret.get_secret_value()
        token = base64.b64encode(f"{settings.razorpay_key_id}:{secret}".encode()).decode()
        good = {"Authorization": f"Basic {token}"}
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{base}/v1/payment_links/plink_none") as r:
                assert r.status == 401
                assert await r.json() == {
                    "error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}
                }
            async with client.get(f"{base}/v1/payment_links/plink_none", headers=good) as r:
                error = (await r.json())["error"]
                assert error["description"] == "The id provided does not exist"
                assert "field" not in error and error["reason"] == "input_validation_failed"
            link = {"amount": 50000, "reference_id": "r1", "notes": {"k": "v"}}
            async with client.post(f"{base}/v1/payment_links", json=link, headers=good) as r:
                created = await r.json()
            assert created["status"] == "created" and created["payments"] is None
            assert "callback_url" not in created
            async with client.post(f"{base}/v1/payment_links", json=link, headers=good) as r:
                assert (await r.json())["error"]["field"] == "reference_id"  # unique
            too_long = {"amount": 50000, "reference_id": "x" * 41}
            async with client.post(f"{base}/v1/payment_links", json=too_long, headers=good) as r:
                assert r.status == 400
        failed = json.loads(fake.fail_payment(created["id"], deliver=False))
        paid, _ = (json.loads(b) for b in fake.pay(created["id"], deliver=False))
        order_id = paid["payload"]["payment"]["entity"]["order_id"]
        assert failed["payload"]["payment"]["entity"]["order_id"] == order_id
        assert failed["payload"]["payment"]["entity"]["error_reason"] == "payment_failed"
        assert paid["payload"]["order"]["entity"]["id"] == order_id.removeprefix("order_")
        assert "payments" not in paid["payload"]["payment_link"]["entity"]
        payment_id = paid["payload"]["payment"]["entity"]["id"]
        refund = json.loads(fake.refund(payment_id, deliver=False))
        refunded = refund["payload"]["payment"]["entity"]
        assert refund["payload"]["refund"]["entity"]["amount"] == 50000
        assert (refunded["status"], refunded["captured"], refunded["refund_status"]) == (
            "refunded",
            True,
            "full",
        )
        fake.webhook_url = f"{base}/nowhere"  # 404 on every try
        fake.deliver(b'{"event": "payment_link.expired"}')
        await fake.drain()
        assert fake.webhook_disabled and fake.deliveries[-1].statuses == [404, 404]
        fake.deliver(b'{"event": "payment_link.expired"}')
        await fake.drain()
        assert fake.deliveries[-1].statuses == []  # not sent while disabled
    finally:
        await fake.stop()
