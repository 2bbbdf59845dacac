"""notifier: publishing enqueues one job per batch; a batch job sends each member once,
on their channel, in their language, through the local fake providers — retrying,
failing, re-routing and opting out as the providers answer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import announcements, deliveries
from core import jobs as queue_jobs
from core.channels.base import Channel, Choice, Reply
from core.config import Settings
from core.jobs import BULK_QUEUE, PRIORITY_QUEUE, redis_jobs
from core.outbound import queue_reply
from core.services import addresses
from fakes.dlt import FakeDlt, registered_templates
from fakes.telegram import FakeTelegram
from fakes.twilio import FakeTwilio
from notifier import jobs
from notifier.bootstrap import Deps, NotifierOptions, build
from tests.factories import Tree, make_member, make_tree
from tests.memory_queue import MemoryQueue
from tests.test_fanout import address

ANNOUNCEMENT_TEMPLATES = {
    "1107000000000000010": "விசிக அறிவிப்பு: {#var#}{#var#}{#var#}{#var#}",
    "1107000000000000011": "VCK announcement: {#var#}{#var#}{#var#}{#var#}",
}


class WindowTwilio(FakeTwilio):
    """The fake Twilio, refusing free text to numbers in ``closed_window`` (63016)."""

    closed_window: set[str]

    async def _messages(self, request: web.Request) -> web.Response:
        form = await request.post()
        to = str(form.get("To", "")).removeprefix("whatsapp:")
        if (
            to in getattr(self, "closed_window", ())
            and form.get("Body")
            and not form.get("ContentSid")
        ):
            return self._error(63016)
        return await super()._messages(request)


@dataclass
class Fakes:
    """The fake providers, which (like the real ones) do not honour idempotency keys."""

    twilio: WindowTwilio
    telegram: FakeTelegram
    dlt: FakeDlt

    def total(self) -> int:
        return len(self.twilio.sent) + len(self.telegram.sent) + len(self.dlt.sent)

    def addresses(self) -> list[str]:
        """Every recipient the providers accepted a message for, repeats included."""
        return (
            [m["To"].removeprefix("whatsapp:") for m in self.twilio.sent]
            + [str(m["chat_id"]) for m in self.telegram.sent]
            + [m["To"] for m in self.dlt.sent]
        )


@pytest.fixture
async def fakes(base_settings: Settings) -> AsyncIterator[Fakes]:
    found = Fakes(
        WindowTwilio.from_settings(base_settings),
        FakeTelegram.from_settings(base_settings),
        FakeDlt.from_settings(
            base_settings,
            templates={
                **registered_templates(base_settings),
                **ANNOUNCEMENT_TEMPLATES,
            },
        ),
    )
    found.twilio.closed_window = set()
    for fake in (found.twilio, found.telegram, found.dlt):
        await fake.start()
    yield found
    for fake in (found.twilio, found.telegram, found.dlt):
        await fake.stop()


@pytest.fixture
def notifier_settings(settings: Settings, fakes: Fakes) -> Settings:
    return settings.model_copy(
        update={
            "twilio_api_base_url": fakes.twilio.base_url,
            "telegram_api_base_url": fakes.telegram.base_url,
            "dlt_api_base_url": fakes.dlt.base_url,
            "fanout_batch_size": 500,
        }
    )


@pytest.fixture
async def deps(notifier_settings: Settings) -> AsyncIterator[Deps]:
    options = NotifierOptions(backoff_base_seconds=0.05, lease_seconds=5, max_attempts=4)
    built = build(notifier_settings, MemoryQueue(), options=options)
    yield built
    await built.close()


NOW = datetime.now(UTC)
# Texts of registered DLT templates (the fake refuses any other, as DLT does).
OTP_TEXT = (
    "123456 is your VCK Connect code. It is valid for 5 minutes. Do not share it with anyone."
)
HELLO = "Thank you. How can we help you today?"


async def publish(
    deps: Deps, session: AsyncSession, unit_code: str, **kw: Any
) -> tuple[uuid.UUID, dict[str, Any]]:
    created = await announcements.create(
        session, official_member_id=None, unit_code=unit_code,
        title=kw.pop("title", "Meeting"), content=kw.pop("content", "Sunday at 10"),
        title_ta=kw.pop("title_ta", "கூட்டம்"), content_ta=kw.pop("content_ta", "ஞாயிறு 10 மணி"),
        now=datetime.now(UTC), settings=deps.settings, **kw,
    )  # fmt: skip
    assert isinstance(created, announcements.Created), created
    await session.commit()
    summary = await jobs.publish_announcement(deps, str(created.announcement_id))
    return created.announcement_id, summary


async def drain(deps: Deps, announcement_id: uuid.UUID) -> list[Any]:
    """Run every enqueued batch job (and their retries) to the end."""
    results = []
    queue = deps.queue
    assert isinstance(queue, MemoryQueue)
    for _job_id, (function, args) in sorted(queue.jobs.items()):
        if function != queue_jobs.SEND_BATCH or args[0] != str(announcement_id):
            continue
        result = await jobs.send_batch(deps, *args)
        while isinstance(result, jobs.Again):
            result = await jobs.send_batch(deps, *args)
        results.append(result)
    return results


async def states(session: AsyncSession, announcement_id: uuid.UUID) -> dict[str, tuple[Any, ...]]:
    rows = await session.execute(
        text(
            "SELECT address, status::text, channel, provider, error_code, attempts, via_template,"
            " route_reason, error_reason FROM announcement_deliveries WHERE announcement_id = :a"
        ),
        {"a": announcement_id},
    )
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.fixture
async def tree(session: AsyncSession) -> Tree:
    tree = await make_tree(session)
    await session.commit()
    return tree


async def test_publish_enqueues_one_job_per_batch(
    session: AsyncSession, notifier_settings: Settings, redis: aioredis.Redis, tree: Tree
) -> None:
    for _ in range(5):
        member = await make_member(session, unit=tree.booth_a1)
        await address(session, member, "sms")
    settings = notifier_settings.model_copy(update={"fanout_batch_size": 2})
    deps = build(settings)
    try:
        aid, summary = await publish(deps, session, tree.booth_a1.code)
        assert (summary["rows"], summary["batches"], summary["enqueued"]) == (5, 3, 3)
        queued = sorted(x.decode() for x in await redis.zrange(BULK_QUEUE, 0, -1))
        assert queued == [f"send:{aid}:{b}" for b in range(3)]
        again = await jobs.publish_announcement(deps, str(aid))
        assert (again["state"], again["rows"], again["enqueued"]) == ("already", 0, 0)
        assert await redis.zcard(BULK_QUEUE) == 3
    finally:
        await deps.close()


async def test_every_member_once_on_their_channel_and_language(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    unit = tree.booth_a1
    now = datetime.now(UTC)
    window = await make_member(session, unit=unit, language="en", phone="+919811100001")
    await address(session, window, "whatsapp", last_inbound_at=now - timedelta(hours=1))
    template = await make_member(session, unit=unit, phone="+919811100002")
    await address(session, template, "whatsapp")
    telegram = await make_member(session, unit=unit, phone="+919811100003")
    await address(session, telegram, "telegram", "70000001")
    feature_phone = await make_member(session, unit=unit, phone="+919811100004")
    await address(session, feature_phone, "sms")
    abroad = await make_member(session, unit=unit, language="en", phone="+447700900555")
    await address(session, abroad, "sms")
    await session.commit()

    aid, _ = await publish(deps, session, unit.code, sms_text="Meeting Sunday 10am")
    await drain(deps, aid)

    assert sorted(fakes.addresses()) == sorted(
        ["+919811100001", "+919811100002", "70000001", "+919811100004", "+447700900555"]
    )
    by_to = {m["To"]: m for m in fakes.twilio.sent}
    assert by_to["whatsapp:+919811100001"]["Body"] == "Meeting\n\nSunday at 10"
    sent_template = by_to["whatsapp:+919811100002"]
    assert sent_template["ContentSid"] == "HX00000000000000000000000000000001"
    assert json.loads(sent_template["ContentVariables"]) == {"1": "கூட்டம்", "2": "ஞாயிறு 10 மணி"}
    assert by_to["+447700900555"]["Body"] == "VCK announcement: Meeting Sunday 10am"
    assert fakes.telegram.sent[0]["text"] == "கூட்டம்\n\nஞாயிறு 10 மணி"
    sms = fakes.dlt.sent[0]
    assert (sms["To"], sms["DltTemplateId"]) == ("+919811100004", "1107000000000000011")
    assert sms["Body"] == "VCK announcement: Meeting Sunday 10am"

    got = await states(session, aid)
    assert got["70000001"][0] == "delivered"  # Telegram's answer is the delivery
    assert {got[a][0] for a in got if a != "70000001"} == {"sent"}
    assert got["+919811100004"][1:3] == ("sms", "dlt")


async def test_retry_after_429_then_success(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_a2, phone="+919811100010")
    await address(session, member, "sms")
    await session.commit()
    fakes.dlt.fail(times=1, status=429, retry_after=1)
    aid, _ = await publish(deps, session, tree.booth_a2.code)
    await drain(deps, aid)
    assert fakes.dlt.requests == 2 and len(fakes.dlt.sent) == 1
    status, *_rest = (await states(session, aid))["+919811100010"]
    assert status == "sent"
    assert _rest[3] == 2  # attempts


async def test_outage_of_500s_then_everything_goes_once(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    for i in range(6):
        member = await make_member(session, unit=tree.booth_a2, phone=f"+91981110002{i}")
        await address(session, member, "sms")
    await session.commit()
    fakes.dlt.fail(times=8, status=500)
    aid, _ = await publish(deps, session, tree.booth_a2.code)
    await drain(deps, aid)
    assert sorted(m["To"] for m in fakes.dlt.sent) == [f"+91981110002{i}" for i in range(6)]
    assert {s[0] for s in (await states(session, aid)).values()} == {"sent"}


async def test_permanent_error_is_stored_with_the_providers_code(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_b1, phone="+919811100030")
    await address(session, member, "sms")
    await session.commit()
    fakes.dlt.fail_for["+919811100030"] = 622
    aid, _ = await publish(deps, session, tree.booth_b1.code)
    await drain(deps, aid)
    status, _c, _p, code, attempts, _t, _r, reason = (await states(session, aid))["+919811100030"]
    assert (status, code, attempts) == ("failed", "622", 1)
    assert "HEADER_BLACKLISTED" in reason


async def test_giving_up_after_the_last_attempt(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_b1, phone="+919811100031")
    await address(session, member, "sms")
    await session.commit()
    fakes.dlt.fail(times=100, status=503)
    aid, _ = await publish(deps, session, tree.booth_b1.code)
    await drain(deps, aid)
    status, *_x = (await states(session, aid))["+919811100031"]
    assert status == "failed" and fakes.dlt.requests == deps.options.max_attempts


async def test_an_expired_announcement_stops_sending(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "sms")
    await session.commit()
    aid, _ = await publish(deps, session, tree.booth_a1.code,
                           expires_at=datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
    await session.execute(
        text("UPDATE announcements SET expires_at = now() - interval '1 second' WHERE id = :a"),
        {"a": aid},
    )
    await session.commit()
    await drain(deps, aid)
    assert fakes.total() == 0
    assert {(s[0], s[7]) for s in (await states(session, aid)).values()} == {("skipped", "expired")}


async def test_an_opt_out_right_before_sending_is_honoured(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    stays = await make_member(session, unit=tree.booth_a1, phone="+919811100040")
    await address(session, stays, "whatsapp")
    leaves = await make_member(session, unit=tree.booth_a1, phone="+919811100041")
    await address(session, leaves, "whatsapp")
    await session.commit()
    aid, _ = await publish(deps, session, tree.booth_a1.code)
    await addresses.opt_out(session, Channel.WHATSAPP, "+919811100041", now=datetime.now(UTC))
    await session.commit()
    await drain(deps, aid)
    assert fakes.addresses() == ["+919811100040"]
    assert (await states(session, aid))["+919811100041"][0] == "skipped"


async def test_outside_the_window_63016_goes_again_as_the_template(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_a1, phone="+919811100050")
    await address(
        session, member, "whatsapp", last_inbound_at=datetime.now(UTC) - timedelta(hours=1)
    )
    await session.commit()
    fakes.twilio.closed_window.add("+919811100050")
    aid, _ = await publish(deps, session, tree.booth_a1.code)
    await drain(deps, aid)
    assert [m.get("ContentSid") for m in fakes.twilio.sent] == [
        "HX00000000000000000000000000000001"
    ]
    status, channel, _p, _c, _a, via_template, *_ = (await states(session, aid))["+919811100050"]
    assert (status, channel, via_template) == ("sent", "whatsapp", True)


async def test_unreachable_on_whatsapp_falls_back_to_telegram(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_a1, phone="+919811100060")
    await address(session, member, "whatsapp")
    await address(session, member, "telegram", "70000060")
    await session.commit()
    fakes.twilio.fail_for["+919811100060"] = 63003
    # Telegram is only the fallback: WhatsApp first.
    aid, _ = await publish(deps, session, tree.booth_a1.code)
    await drain(deps, aid)
    assert fakes.addresses() == ["70000060"]
    got = await states(session, aid)
    assert got["70000060"][:2] == ("delivered", "telegram")
    assert got["70000060"][6] == "whatsapp_unreachable"


async def test_stop_at_the_provider_opts_the_address_out(
    session: AsyncSession,
    deps: Deps,
    fakes: Fakes,
    tree: Tree,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    texter = await make_member(session, unit=tree.booth_b1, phone="+447700900666")
    await address(session, texter, "sms")
    blocker = await make_member(session, unit=tree.booth_b1, phone="+919811100071")
    await address(session, blocker, "telegram", "70000071")
    await session.commit()
    fakes.twilio.fail_for["+447700900666"] = 21610
    fakes.telegram.fail_for["70000071"] = 403
    aid, _ = await publish(deps, session, tree.booth_b1.code)
    await drain(deps, aid)
    async with session_factory() as fresh:
        for channel, value in (("sms", "+447700900666"), ("telegram", "70000071")):
            opted = await addresses.get(fresh, channel, value)
            assert opted is not None and opted.opted_out_at is not None, channel
        got = await states(fresh, aid)
    assert got["+447700900666"][:4] == ("failed", "sms", "twilio", "21610")
    assert got["70000071"][0] == "failed"


async def left_in_flight(session: AsyncSession, aid: uuid.UUID, *addresses_: str) -> None:
    """A worker claimed these rows an hour ago and died before recording them."""
    await session.execute(
        text("UPDATE announcement_deliveries SET status = 'sending', attempts = 1,"
             " sending_at = now() - interval '1 hour'"
             " WHERE announcement_id = :a AND address = ANY(:addresses)"),
        {"a": aid, "addresses": list(addresses_)},
    )  # fmt: skip
    await session.commit()


async def test_sends_left_in_flight_by_a_dead_worker_are_settled_never_blindly_resent(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    """Twilio is asked (its Message list by To and DateSent): a message it has is
    recorded with its sid, one it has not is sent again. Telegram cannot be asked and
    the DLT provider's report has not come: both stay uncertain, not sent again."""
    from notifier.senders import Outgoing, send_delivery

    gone = await make_member(session, unit=tree.booth_a2, phone="+447700900080")
    await address(session, gone, "sms")
    lost = await make_member(session, unit=tree.booth_a2, phone="+447700900081")
    await address(session, lost, "sms")
    chat = await make_member(session, unit=tree.booth_a2, phone="+919811100082")
    await address(session, chat, "telegram", "91100082")
    dlt = await make_member(session, unit=tree.booth_a2, phone="+919811100083")
    await address(session, dlt, "sms")
    await session.commit()
    aid, _ = await publish(deps, session, tree.booth_a2.code)
    await left_in_flight(session, aid, "+447700900080", "+447700900081", "91100082",
                         "+919811100083")  # fmt: skip
    content = await announcements.load_content(session, aid)
    assert content is not None
    # The first one reached Twilio before the worker died; so did the Telegram one.
    delivery = Outgoing(gone.id, "sms", "twilio", "+447700900080", "ta", False, 1)
    first = await send_delivery(deps.senders, content, delivery, key=delivery.key(aid))
    telegram = Outgoing(chat.id, "telegram", "telegram", "91100082", "ta", False, 1)
    await send_delivery(deps.senders, content, telegram, key=telegram.key(aid))

    await drain(deps, aid)

    assert sorted(fakes.addresses()) == ["+447700900080", "+447700900081", "91100082"]
    rows = await session.execute(
        text("SELECT address, status::text, reconciliation, provider_message_id"
             " FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": aid},
    )  # fmt: skip
    got = {r[0]: tuple(r[1:]) for r in rows}
    assert got["+447700900080"] == ("sent", "found", first.provider_message_id)
    assert got["+447700900081"][:2] == ("sent", "resent")
    assert got["91100082"][:2] == ("uncertain", "unknown")
    assert got["+919811100083"][:2] == ("uncertain", "unknown")
    summary = await deliveries.report(session, aid, deps.settings)
    assert summary is not None
    assert (summary.uncertain, summary.resent, summary.settled) == (2, 1, 1)
    from bot.flows.report import describe
    from core.i18n import Language, use_language

    for language, line in (
        (Language.ENGLISH, "Uncertain: 3 ("),
        (Language.TAMIL, "உறுதியில்லை: 3 ("),
    ):
        with use_language(language):
            assert line in describe(summary, language)


async def test_a_dlt_report_settles_an_uncertain_send(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    """The DLT provider cannot be asked, but its delivery report carries our key as
    CustomField: a report for a send left uncertain settles it, before the sweep looks
    (found in message_status_events) or after (the webhook)."""
    from core.channels import dlt as dlt_channel
    from core.fanout import FanoutPolicy
    from core.services import status
    from fakes.dlt import status_callback_form
    from notifier.senders import Outgoing, send_delivery

    early = await make_member(session, unit=tree.booth_b1, phone="+919811100084")
    await address(session, early, "sms")
    late = await make_member(session, unit=tree.booth_b1, phone="+919811100085")
    await address(session, late, "sms")
    await session.commit()
    aid, _ = await publish(deps, session, tree.booth_b1.code)
    await left_in_flight(session, aid, "+919811100084", "+919811100085")
    content = await announcements.load_content(session, aid)
    assert content is not None
    secret = deps.settings.secret_key.get_secret_value()
    policy = FanoutPolicy.from_settings(deps.settings)
    sent = {}
    for member in (early, late):
        d = Outgoing(member.id, "sms", "dlt", member.phone, "ta", False, 1)
        sent[member.phone] = (d, await send_delivery(deps.senders, content, d, key=d.key(aid)))

    async def report_for(phone: str) -> None:
        d, result = sent[phone]
        form = status_callback_form(result.provider_message_id, phone, "sent",
                                    custom_field=d.key(aid))  # fmt: skip
        async with deps.session_factory() as s, s.begin():
            await status.record_status(
                s, dlt_channel.parse_status_callback(form), channel=Channel.SMS,
                payload=form, now=datetime.now(UTC), secret=secret, policy=policy,
            )  # fmt: skip

    await report_for("+919811100084")  # before the sweep: found by its CustomField
    await drain(deps, aid)
    await report_for("+919811100085")  # after: the webhook settles it
    rows = await session.execute(
        text("SELECT address, status::text, reconciliation, provider_message_id"
             " FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": aid},
    )  # fmt: skip
    got = {r[0]: tuple(r[1:]) for r in rows}
    for phone in ("+919811100084", "+919811100085"):
        assert got[phone] == ("sent", "reported", sent[phone][1].provider_message_id)
    assert len(fakes.dlt.sent) == 2  # nothing sent again


async def test_priority_replies_have_their_own_queue(
    deps: Deps, fakes: Fakes, redis: aioredis.Redis
) -> None:
    queue = redis_jobs(redis)
    outbox_id = await queue_reply(deps.engine, queue, Channel.SMS, "+919811100090",
                                  Reply(OTP_TEXT), sms_template="otp_en")  # fmt: skip
    assert not await queue.enqueue_reply(outbox_id)  # one job per row
    assert await redis.zcard(PRIORITY_QUEUE) == 1 and await redis.zcard(BULK_QUEUE) == 0
    job = deserialize_job(await redis.get(job_key_prefix + queue_jobs.reply_job_id(outbox_id)))
    assert (job.function, job.args) == (queue_jobs.SEND_REPLY, (outbox_id,))
    result = await jobs.send_reply_job(deps, outbox_id)
    assert isinstance(result, dict) and result["state"] == "done"
    assert fakes.dlt.sent[0]["DltTemplateId"] == deps.settings.dlt_template_ids["otp_en"]
    # Sent: the row is gone, and running the job again sends nothing.
    assert await jobs.send_reply_job(deps, outbox_id) == {"state": "done"}
    assert len(fakes.dlt.sent) == 1


async def test_a_reply_refused_again_waits_in_its_row_and_goes_later(
    deps: Deps, fakes: Fakes, redis: aioredis.Redis
) -> None:
    """The priority lane meets a 429: the row keeps its retry time, the job runs again
    then (the same idempotency key), and the member gets the reply once."""
    outbox_id = await queue_reply(deps.engine, redis_jobs(redis), Channel.WHATSAPP,
                                  "+919811100092", Reply("Hello"), key="vck:reply:k9")  # fmt: skip
    fakes.twilio.fail(seconds=30, status=429, retry_after=1)
    again = await jobs.send_reply_job(deps, outbox_id)
    assert isinstance(again, jobs.Again)
    fakes.twilio.reset()
    async with deps.engine.begin() as conn:  # its time has come
        await conn.execute(text("UPDATE outbox SET available_at = now() WHERE id = :i"),
                           {"i": outbox_id})  # fmt: skip
    assert await jobs.send_reply_job(deps, outbox_id) == {"state": "done"}
    sent = [s for s in fakes.twilio.sent if s["To"] == "whatsapp:+919811100092"]
    assert len(sent) == 1


async def test_a_reply_job_queued_before_the_upgrade_is_still_sent_once(
    deps: Deps, fakes: Fakes
) -> None:
    """A job from before issue 10.3 carries the reply itself: it becomes an outbox row
    (same idempotency key) and goes, so an upgrade loses no reply."""
    from notifier import worker

    old_args = ("whatsapp", "+919811100093", Reply("Hello").to_dict(), "vck:reply:old", None)
    assert await worker.send_reply({"deps": deps}, *old_args) == {"state": "done"}
    sent = [s for s in fakes.twilio.sent if s["To"] == "whatsapp:+919811100093"]
    assert len(sent) == 1
    async with deps.engine.connect() as conn:
        assert not await conn.scalar(text("SELECT count(*) FROM outbox"))


async def test_a_queued_reply_keeps_every_field(engine: AsyncEngine, redis: aioredis.Redis) -> None:
    """A reply the providers refused for now waits in the outbox table as plain data: a
    list of people (``stored_choices=False``) must come back as one, or the worker would
    turn it into a permanent WhatsApp template."""
    reply = Reply(
        "Who do you verify?",
        (Choice("m1", "Anbu"), Choice("m2", "Bharathi"), Choice("m3", "Chitra")),
        ask_location=True,
        ask_contact=True,
        button="Share",
        list_button="People",
        stored_choices=False,
    )
    outbox_id = await queue_reply(engine, redis_jobs(redis), Channel.WHATSAPP,
                                  "+919811100091", reply)  # fmt: skip
    async with engine.connect() as conn:
        payload = await conn.scalar(
            text("SELECT payload FROM outbox WHERE id = :i"), {"i": outbox_id}
        )
    assert Reply.from_dict(payload["reply"]) == reply
    assert payload["key"].startswith("vck:reply:")


async def test_the_sweep_enqueues_batches_no_live_job_owns(
    session: AsyncSession, deps: Deps, tree: Tree, redis: aioredis.Redis
) -> None:
    for _ in range(3):
        member = await make_member(session, unit=tree.booth_a1)
        await address(session, member, "sms")
    await session.commit()
    aid, _ = await publish(deps, session, tree.booth_a1.code)
    queue = deps.queue
    assert isinstance(queue, MemoryQueue)
    queue.jobs.clear()  # the publish's jobs were lost
    await redis.set(jobs.lease_key(aid, 0), "someone", px=60_000)
    assert await jobs.sweep(deps) == 0  # a live job holds the batch
    await redis.delete(jobs.lease_key(aid, 0))
    assert await jobs.sweep(deps) == 1
    assert list(queue.jobs) == [queue_jobs.batch_job_id(aid, 0)]


async def test_a_send_in_flight_when_the_announcement_expired_is_still_settled(
    session: AsyncSession, deps: Deps, fakes: Fakes, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_b1, phone="+447700900181")
    await address(session, member, "sms")
    other = await make_member(session, unit=tree.booth_b1, phone="+919811100082")
    await address(session, other, "sms")
    await session.commit()
    aid, _ = await publish(deps, session, tree.booth_b1.code)
    await left_in_flight(session, aid, "+447700900181")
    await session.execute(
        text("UPDATE announcements SET expires_at = now() - interval '1 second' WHERE id = :a"),
        {"a": aid},
    )
    await session.commit()
    await drain(deps, aid)
    got = await states(session, aid)
    assert got["+447700900181"][0] == "skipped"  # Twilio had no record; now too late
    assert got["+919811100082"][0] == "skipped"
    assert fakes.addresses() == []


async def test_every_provider_gets_the_messages_idempotency_key(deps: Deps, fakes: Fakes) -> None:
    """Every adapter sends the message's key: a provider that honours it (the fakes with
    ``idempotent=True``) answers a repeat from memory, one message; the fakes as they
    are by default (like Twilio, Telegram and DLT providers) send it twice."""
    for fake in (fakes.twilio, fakes.telegram, fakes.dlt):
        fake.idempotent = True
    sends = (
        (Channel.WHATSAPP, "+919811100091", fakes.twilio),
        (Channel.SMS, "+447700900091", fakes.twilio),
        (Channel.SMS, "+919811100092", fakes.dlt),
        (Channel.TELEGRAM, "91000091", fakes.telegram),
    )
    for channel, address_, fake in sends:
        before = len(fake.sent)
        for _ in range(2):
            await deps.dispatcher.send(channel, address_, Reply(HELLO), key=f"k-{address_}")
        assert len(fake.sent) == before + 1, (channel, address_)
    assert (fakes.twilio.replayed, fakes.dlt.replayed, fakes.telegram.replayed) == (2, 1, 1)
    for channel, address_, fake in sends:
        fake.idempotent = False
        before = len(fake.sent)
        for _ in range(2):
            await deps.dispatcher.send(channel, address_, Reply(HELLO), key=f"k2-{address_}")
        assert len(fake.sent) == before + 2, (channel, address_)
        assert fake.sent[-1] != fake.sent[-2] or channel is Channel.TELEGRAM


async def test_a_send_that_times_out_unanswered_is_settled_not_retried_blindly(
    session: AsyncSession, notifier_settings: Settings, fakes: Fakes, tree: Tree
) -> None:
    """A request that times out may have reached the provider (here Twilio accepts it
    after our client gave up): it is not retried as if refused, but settled like a
    stopped worker's send — Twilio lists it, so it is recorded, not sent twice."""
    member = await make_member(session, unit=tree.booth_b1, phone="+447700900281")
    await address(session, member, "sms")
    await session.commit()
    settings = notifier_settings.model_copy(update={"provider_timeout_seconds": 0.3})
    options = NotifierOptions(backoff_base_seconds=0.05, lease_seconds=0.5, max_attempts=4)
    deps = build(settings, MemoryQueue(), options=options)
    try:
        aid, _ = await publish(deps, session, tree.booth_b1.code)
        fakes.twilio.latency = 0.6  # answers after the client's timeout; still sends
        # ... and is quick again when the worker asks it, a second later.
        asyncio.get_running_loop().call_later(0.8, setattr, fakes.twilio, "latency", 0.0)
        results = await drain(deps, aid)
    finally:
        fakes.twilio.latency = 0.0
        await deps.close()
    assert results and results[0]["state"] == "done"
    assert fakes.addresses() == ["+447700900281"]
    row = (
        await session.execute(
            text("SELECT status::text, reconciliation, provider_message_id"
                 " FROM announcement_deliveries WHERE announcement_id = :a"),
            {"a": aid},
        )
    ).one()  # fmt: skip
    assert tuple(row) == ("sent", "found", fakes.twilio.sent[0]["sid"])
