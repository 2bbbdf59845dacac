"""Erasure leaves nothing personal (security review H3): a member signs up in Tamil on
WhatsApp, also writes by SMS through the DLT provider and on Telegram, gets an
announcement with its status callbacks, then deletes their details. Afterwards no
table and no Redis key holds their phone, name, date of birth, voter ID or email."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from core import announcements
from core.channels.base import Channel, Reply
from core.jobs import redis_jobs
from core.outbound import queue_reply
from fakes import dlt as fake_dlt
from fakes import twilio as fake_twilio
from notifier import jobs
from notifier.bootstrap import NotifierOptions, build
from tests.memory_queue import MemoryQueue

PHONE = "+919840077123"
NAME = "Kalaiselvi Raman"
VOTER_ID = "KLS1234567"
EMAIL = "kalai.raman@example.org"
TELEGRAM_CHAT = "6060606"


def personal_values() -> list[str]:
    return [PHONE.removeprefix("+91"), NAME, "Kalaiselvi", VOTER_ID, EMAIL.split("@")[0],
            "1990-08-15", "15/08/1990", "15 Aug"]  # fmt: skip


async def _everywhere_in_postgres(session, needles: list[str]) -> dict[str, int]:
    """Rows of any table whose text form holds any needle (every column, JSON too)."""
    tables = await session.scalars(
        text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' AND table_name NOT IN ('spatial_ref_sys')"
        )
    )
    patterns = [f"%{n.lower()}%" for n in needles]
    found = {}
    for table in tables:
        count = await session.scalar(
            text(f'SELECT count(*) FROM "{table}" t WHERE lower(t::text) LIKE ANY(:p)'),
            {"p": patterns},
        )
        if count:
            found[table] = count
    return found


async def _everywhere_in_redis(redis, needles: list[str]) -> list[str]:
    hits = []
    async for key in redis.scan_iter(count=1000):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            values = [await redis.get(key) or b""]
        elif kind == "hash":
            values = [b"%s=%s" % kv for kv in (await redis.hgetall(key)).items()]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)
        elif kind == "zset":
            values = await redis.zrange(key, 0, -1)
        elif kind == "set":
            values = list(await redis.smembers(key))
        else:
            values = []
        blob = (key + b" " + b" ".join(values)).lower()
        hits += [f"{key!r}: {n}" for n in needles if n.lower().encode() in blob]
    return hits


async def test_after_erasure_no_table_or_redis_key_holds_anything_personal(
    member, providers, bot, bot_settings, session
) -> None:
    whatsapp = member(Channel.WHATSAPP, PHONE)
    await whatsapp.says("hi")
    await whatsapp.says("2")  # English
    await whatsapp.says("1")  # I agree
    await whatsapp.says("join")
    for answer in (NAME, "15/08/1990", "2", "1", "605602", VOTER_ID, EMAIL):
        await whatsapp.says(answer)
    assert "VCK-" in await whatsapp.says("1")  # confirmed: a member

    sms = member(Channel.SMS, PHONE)  # the same member by SMS, through the DLT provider
    assert "My membership" in await sms.says("hi")
    assert "VCK-" in await sms.says("1")
    telegram = member(Channel.TELEGRAM, TELEGRAM_CHAT)
    await telegram.says("/start")
    await telegram.says(button="en")

    # Verified (as an official would), then an announcement reaches them.
    await session.execute(text("UPDATE members SET status = 'active' WHERE phone = :p"),
                          {"p": PHONE})  # fmt: skip
    made = await announcements.create(
        session, official_member_id=None, unit_code="TN.VPM", title="Meeting",
        content="Sunday 10 am", sms_text="Meeting Sunday", now=datetime.now(UTC),
        settings=bot_settings,
    )  # fmt: skip
    await session.commit()
    deps = build(bot_settings, MemoryQueue(), options=NotifierOptions(backoff_base_seconds=0.05))
    try:
        await jobs.publish_announcement(deps, str(made.announcement_id))
        for function, args in list(deps.queue.jobs.values()):
            if function == jobs.SEND_BATCH:
                while isinstance(await jobs.send_batch(deps, *args), jobs.Again):
                    pass
    finally:
        await deps.close()
    to_member = [m for m in providers.twilio.sent if m.get("To") == f"whatsapp:{PHONE}"]
    assert to_member
    url = bot_settings.public_base_url + "/webhooks/twilio/status"
    token = bot_settings.twilio_auth_token.get_secret_value()
    for sent in to_member:
        form = fake_twilio.status_form(sent["sid"], "delivered", to=f"whatsapp:{PHONE}")
        response = await whatsapp.client.post(
            "/webhooks/twilio/status", data=form,
            headers={"X-Twilio-Signature": fake_twilio.sign(token, url, form)},
        )  # fmt: skip
        assert response.status == 204
    body, headers = fake_dlt.signed_request(
        bot_settings.dlt_webhook_secret.get_secret_value(),
        fake_dlt.status_callback_form("dltsid1", PHONE, "sent", custom_field="vck:reply:x"),
    )
    assert (
        await whatsapp.client.post("/webhooks/dlt/status", data=body, headers=headers)
    ).status == 204

    before = await _everywhere_in_postgres(session, personal_values())
    assert before.get("members") and before.get("channel_addresses")  # the search finds them

    # A reply a provider refused for now waits in the outbox table, naming the number;
    # its priority-lane job names only the row.
    await queue_reply(bot.db, redis_jobs(bot.redis), Channel.WHATSAPP, PHONE, Reply("hello"))
    assert "outbox" in await _everywhere_in_postgres(session, [PHONE.removeprefix("+91")])
    # Nor does any Redis key or value: conversation, flood and button keys are keyed
    # HMACs of the address.
    assert await _everywhere_in_redis(bot.redis, [PHONE.removeprefix("+91")]) == []

    await whatsapp.says("delete")
    assert "details are deleted" in await whatsapp.says("1")
    await bot.drain()

    session.expire_all()
    assert await _everywhere_in_postgres(session, personal_values()) == {}
    assert await _everywhere_in_redis(bot.redis, personal_values()) == []
