"""The HTTP face: signatures refused with 403 before anything is stored, malformed
bodies answered with 400 (never 500), status callbacks stored, health and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlencode

from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from sqlalchemy import func, select, text

from core.channels.base import Channel, Choice, Reply
from core.jobs import PRIORITY_QUEUE
from core.models import ChannelAddress, Message, MessageStatusEvent
from fakes import dlt as fake_dlt
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio
from notifier import jobs
from notifier.bootstrap import build
from tests.memory_queue import MemoryQueue

PHONE = "+919840300001"


async def nothing_stored(session, redis) -> bool:
    messages = await session.scalar(select(func.count()).select_from(Message))
    addresses = await session.scalar(
        select(func.count()).select_from(ChannelAddress).where(ChannelAddress.address == PHONE)
    )
    states = await session.scalar(text("SELECT count(*) FROM conversation_states"))
    return messages == 0 and addresses == 0 and states == 0


async def test_unsigned_and_mis_signed_twilio_webhooks_are_refused(member, session, redis) -> None:
    m = member(Channel.WHATSAPP, PHONE)
    form = fake_twilio.inbound_form("whatsapp:" + PHONE, "hi")
    assert (await m.post_twilio(form, signature=None)).status == 403
    assert (await m.post_twilio(form, signature="bm90IGEgc2lnbmF0dXJl")).status == 403
    tampered = fake_twilio.sign("another-token", "https://vck.example.org/webhooks/twilio", form)
    assert (await m.post_twilio(form, signature=tampered)).status == 403
    assert await nothing_stored(session, redis)


async def test_twilio_signature_is_checked_against_the_public_url_behind_a_proxy(
    member, client, bot
) -> None:
    form = fake_twilio.inbound_form("whatsapp:" + PHONE, "hi")
    token = bot.settings.twilio_auth_token.get_secret_value()
    internal = str(client.make_url("/webhooks/twilio"))  # what the proxy forwarded to
    response = await client.post(
        "/webhooks/twilio",
        data=form,
        headers={"X-Twilio-Signature": fake_twilio.sign(token, internal, form)},
    )
    assert response.status == 403
    assert "Choose your language" in await member(Channel.WHATSAPP, PHONE).says("hi")


async def test_malformed_twilio_bodies_get_400(member, client, session, redis) -> None:
    m = member(Channel.WHATSAPP, PHONE)
    no_sid = fake_twilio.inbound_form("whatsapp:" + PHONE, "hi")
    del no_sid["MessageSid"]
    assert (await m.post_twilio(no_sid)).status == 400
    bad_location = fake_twilio.inbound_form(
        "whatsapp:" + PHONE, "", latitude="north", longitude="80"
    )
    assert (await m.post_twilio(bad_location)).status == 400
    as_json = await client.post("/webhooks/twilio", json={"From": PHONE})
    assert as_json.status == 400
    assert await nothing_stored(session, redis)


async def test_telegram_needs_its_secret_header_and_a_real_update(
    member, client, session, redis
) -> None:
    m = member(Channel.TELEGRAM, "555000999")
    update = fake_telegram.text_update(1, 555000999, "hi")
    assert (await m.post_telegram(update, secret=None)).status == 403
    assert (await m.post_telegram(update, secret="guess")).status == 403
    headers = {
        "X-Telegram-Bot-Api-Secret-Token": m.bot.settings.telegram_webhook_secret.get_secret_value()
    }
    assert (
        await client.post("/webhooks/telegram", data="{not json", headers=headers)
    ).status == 400
    assert (await client.post("/webhooks/telegram", json=[1, 2], headers=headers)).status == 400
    assert (
        await client.post("/webhooks/telegram", json={"message": {}}, headers=headers)
    ).status == 400
    edited = {"update_id": 7, "edited_message": update["message"]}
    response = await client.post("/webhooks/telegram", json=edited, headers=headers)
    assert response.status == 200 and (await response.json())["ignored"] is True
    assert await nothing_stored(session, redis)


async def test_dlt_webhooks_need_the_shared_secret_signature(
    member, client, session, redis
) -> None:
    m = member(Channel.SMS, PHONE)
    form = fake_dlt.inbound_sms_form(PHONE, "hi")
    assert (await m.post_dlt(form, secret=None)).status == 403
    assert (await m.post_dlt(form, secret="wrong")).status == 403
    del form["SmsSid"]
    assert (await m.post_dlt(form)).status == 400
    assert await nothing_stored(session, redis)


async def test_twilio_status_callbacks_are_stored_and_21610_counts_as_stop(
    member, client, bot, session
) -> None:
    await member(Channel.WHATSAPP, PHONE).says("hi")
    form = fake_twilio.status_form(
        "SM" + "0" * 32, "undelivered", to="whatsapp:" + PHONE, error_code="21610"
    )
    url = bot.settings.public_base_url + "/webhooks/twilio/status"
    token = bot.settings.twilio_auth_token.get_secret_value()
    unsigned = await client.post("/webhooks/twilio/status", data=form)
    assert unsigned.status == 403
    signed = await client.post(
        "/webhooks/twilio/status",
        data=form,
        headers={"X-Twilio-Signature": fake_twilio.sign(token, url, form)},
    )
    assert signed.status == 204
    event = await session.scalar(select(MessageStatusEvent))
    assert event.status == "undelivered" and event.error_code == "21610"
    row = await session.scalar(
        select(ChannelAddress).where(
            ChannelAddress.channel == "whatsapp", ChannelAddress.address == PHONE
        )
    )
    assert row.opted_out_at is not None


async def test_health_reports_database_and_redis(client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"database": "ok", "redis": "ok"}


async def test_metrics_count_messages_refusals_and_handling_time(member, client) -> None:
    m = member(Channel.WHATSAPP, PHONE)
    await m.says("hi")
    await m.post_twilio(fake_twilio.inbound_form("whatsapp:" + PHONE, "hi"), signature=None)
    text = await (await client.get("/metrics")).text()
    assert 'vck_inbound_messages_total{channel="whatsapp"} 1.0' in text
    assert 'vck_inbound_duplicates_total{channel="whatsapp"} 1.0' in text
    assert 'vck_errors_total{kind="twilio_signature"} 1.0' in text
    assert 'vck_handling_seconds_count{channel="whatsapp"}' in text


async def queued_reply(bot: Any, outbox_id: int) -> Any:
    """The payload of a reply waiting in the outbox table, or None once it is gone."""
    async with bot.db.connect() as conn:
        return await conn.scalar(
            text("SELECT payload FROM outbox WHERE id = :i AND kind = 'reply'"), {"i": outbox_id}
        )


async def test_a_reply_the_provider_refuses_for_now_goes_out_later_through_the_priority_lane(
    member, providers, bot, redis
) -> None:
    """Twilio answers 429 (its limit, or an outage): the member's reply is kept in the
    outbox table (same idempotency key) with a priority-lane job naming only its row, not
    dropped, and sent once."""
    phone = "+919840012345"
    providers.twilio.fail(seconds=30, status=429, retry_after=1)
    m = member(Channel.WHATSAPP, phone)
    assert await m.says("hello") == ""  # the language question could not go out yet
    queued = await redis.zrange(PRIORITY_QUEUE, 0, -1)
    assert len(queued) == 1
    job = deserialize_job(await redis.get(job_key_prefix + queued[0].decode()))
    (outbox_id,) = job.args  # the job names the outbox row, not the number or the text
    payload = await queued_reply(bot, outbox_id)
    assert (payload["channel"], payload["address"]) == ("whatsapp", phone)
    assert "Choose your language" in str(payload["reply"])

    providers.twilio.reset()  # the provider takes messages again
    deps = build(bot.settings, MemoryQueue())
    try:
        result = await jobs.send_reply_job(deps, outbox_id)
    finally:
        await deps.close()
    assert result["state"] == "done"
    assert await queued_reply(bot, outbox_id) is None  # sent, the row is gone
    sent = [s for s in providers.twilio.sent if s["To"] == f"whatsapp:{phone}"]
    assert len(sent) == 1


async def test_a_list_of_people_refused_for_now_is_still_sent_as_text_not_a_template(
    providers, bot, client, redis
) -> None:
    """A reply listing people (``stored_choices=False``) that Twilio refuses for now
    keeps every field on the priority lane: sent later, it is numbered text, and no
    permanent WhatsApp quick-reply template is created from the names."""
    phone = "+919840012347"
    people = (Choice("m1", "Anbu"), Choice("m2", "Bharathi"))
    reply = Reply("Whom do you verify?", people, list_button="People", stored_choices=False)
    providers.twilio.fail(seconds=30, status=429, retry_after=1)
    await bot.outbox.send(Channel.WHATSAPP, phone, reply)
    (queued,) = await redis.zrange(PRIORITY_QUEUE, 0, -1)
    job = deserialize_job(await redis.get(job_key_prefix + queued.decode()))
    (outbox_id,) = job.args
    payload = await queued_reply(bot, outbox_id)
    assert Reply.from_dict(payload["reply"]) == reply

    providers.twilio.reset()
    deps = build(bot.settings, MemoryQueue())
    try:
        result = await jobs.send_reply_job(deps, outbox_id)
    finally:
        await deps.close()
    assert result["state"] == "done"
    (sent,) = [s for s in providers.twilio.sent if s["To"] == f"whatsapp:{phone}"]
    assert "ContentSid" not in sent and "1. Anbu" in sent["Body"]
    assert providers.twilio.contents == []


async def test_a_reply_ready_after_twilio_stopped_waiting_goes_through_the_rest_api(
    member, providers, bot
) -> None:
    """TwiML read by no one is a lost reply: past the deadline it is sent instead."""
    bot.settings = bot.settings.model_copy(update={"twiml_reply_deadline_seconds": 0.0})
    sender = "+14155550188"  # Twilio SMS: a plain-text reply, normally TwiML
    m = member(Channel.SMS, sender)
    response = await m.post_twilio(fake_twilio.inbound_form(sender, "hi"))
    assert response.status == 200 and "<Message>" not in await response.text()
    await bot.drain()
    sent = [s for s in providers.twilio.sent if s["To"] == sender]
    assert len(sent) == 1 and "Choose your language" in sent[0]["Body"]


# --- hostile input: a 4xx and one log line, never a 500 or a traceback ------------------


def one_line_logged(caplog) -> bool:
    """The request left exactly one line in the bot's log, and nothing anywhere at ERROR
    or with a traceback."""
    ours = [r for r in caplog.records if r.name == "bot.app"]
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    return len(ours) == 1 and not loud


async def test_a_bogus_charset_cannot_break_the_twilio_routes(member, client, bot, caplog) -> None:
    """The charset is not signed and Twilio always sends UTF-8: read the body as UTF-8."""
    bogus = {"Content-Type": "application/x-www-form-urlencoded; charset=x-vck-bogus"}
    for path in ("/webhooks/twilio", "/webhooks/twilio/status"):
        caplog.clear()
        response = await client.post(path, data="a=b", headers=bogus)
        assert response.status == 403 and one_line_logged(caplog), path

    sms = "+14155550177"  # Twilio SMS: the reply comes back as TwiML
    form = fake_twilio.inbound_form(sms, "வணக்கம்")
    token = bot.settings.twilio_auth_token.get_secret_value()
    signature = fake_twilio.sign(token, bot.settings.public_base_url + "/webhooks/twilio", form)
    response = await client.post(
        "/webhooks/twilio",
        data=urlencode(form),
        headers={**bogus, "X-Twilio-Signature": signature},
    )
    assert response.status == 200 and "Choose your language" in await response.text()
    latin1 = {"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"}
    again = fake_twilio.inbound_form(sms, "வணக்கம்")
    signature = fake_twilio.sign(token, bot.settings.public_base_url + "/webhooks/twilio", again)
    response = await client.post(
        "/webhooks/twilio",
        data=urlencode(again),
        headers={**latin1, "X-Twilio-Signature": signature},
    )
    assert response.status == 200  # decoded as latin-1, the Tamil would not match the signature


async def test_a_non_ascii_dlt_signature_is_refused(client, caplog) -> None:
    body, headers = fake_dlt.signed_request("wrong", fake_dlt.inbound_sms_form(PHONE, "hi"))
    for path in ("/webhooks/dlt", "/webhooks/dlt/status"):
        caplog.clear()
        response = await client.post(
            path, data=body, headers={**headers, fake_dlt.SIGNATURE_HEADER: "é"}
        )
        assert response.status == 403 and one_line_logged(caplog), path


async def test_a_telegram_secret_header_that_is_not_utf8_is_refused(client, caplog) -> None:
    """A 0xFF byte reaches the handler as a lone surrogate; aiohttp's client cannot even
    send it, so the request is written by hand."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /webhooks/telegram HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: \xff\r\nConnection: close\r\n\r\n{}"
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"403" and one_line_logged(caplog)


async def test_hostile_json_with_the_telegram_secret_gets_400(bot, client, caplog) -> None:
    secret = bot.settings.telegram_webhook_secret.get_secret_value()
    headers = {
        "Content-Type": "application/json; charset=x-vck-bogus",
        "X-Telegram-Bot-Api-Secret-Token": secret,
    }
    deep = "[" * 32_000 + "]" * 32_000  # valid JSON, as deep as fits in 64 KB
    response = await client.post("/webhooks/telegram", data=deep, headers=headers)
    assert response.status == 400 and one_line_logged(caplog)

    caplog.clear()
    far_future = fake_telegram.text_update(8, 555000999, "hi", date=1e20)
    response = await client.post("/webhooks/telegram", data=json.dumps(far_future), headers=headers)
    assert response.status == 400 and one_line_logged(caplog)
