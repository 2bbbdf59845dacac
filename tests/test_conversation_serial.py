"""One message at a time per conversation, and effects that survive a crash.

Through the real webhooks: concurrent answers from one official are handled one after
the other, so four quick "1"s to "Send?" create one announcement; what a step must do
after its commit (an OTP SMS) is in the outbox, and the worker's sweep delivers it when
the bot died, or Redis failed, right after the commit."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from bot.state import ConversationState, put_states
from core import effects
from core.channels.base import Channel
from core.models import Announcement, OutboxEffect
from core.services import conversations
from fakes import twilio as fake_twilio
from notifier import jobs
from notifier.bootstrap import build
from tests.memory_queue import MemoryQueue

CHENNAI_SECRETARY = "+12025550102"
CODE = re.compile(r"\b(\d{6})\b")


async def _to_confirm(official) -> None:
    """Compose a Tamil-only announcement to Chennai up to "Send?" (step-up done)."""
    await official.says("வணக்கம்")
    await official.says("அறிவிப்பு")
    await official.says("1")
    await official.says("மாவட்டக் கூட்டம்")
    await official.says("ஞாயிறு காலை 10 மணிக்கு கூட்டம்.")
    await official.says("தவிர்")
    await official.says("தவிர்")
    await official.says("1")  # now → a code by SMS


async def test_four_concurrent_confirmations_create_one_announcement(
    member, providers, session
) -> None:
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await _to_confirm(official)
    code = CODE.search(providers.sms_to(CHENNAI_SECRETARY)[-1]).group(1)
    assert "SMS" in await official.says(code)  # the preview and "Send?"

    # Four different messages (a double tap, twice), not a provider's retries of one.
    sender = "whatsapp:" + CHENNAI_SECRETARY
    forms = [fake_twilio.inbound_form(sender, "1") for _ in range(4)]
    assert len({f["MessageSid"] for f in forms}) == 4
    before = len(providers.twilio.sent)
    responses = await asyncio.gather(*(official.post_twilio(f) for f in forms))
    assert [r.status for r in responses] == [200] * 4
    replies = [await r.text() for r in responses]
    await official.bot.drain()
    replies += [str(m) for m in providers.twilio.sent[before:]]  # lists go by the API

    assert await session.scalar(select(func.count()).select_from(Announcement)) == 1
    assert sum("அனுப்பப்படுகிறது" in r for r in replies) == 1  # "on its way", once


async def test_a_second_confirmation_of_the_same_composition_finds_the_first(
    member, providers, bot, session
) -> None:
    """A stale state (say, put back from a copy) re-asks "Send?": answering it again
    must not create a second announcement."""
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await _to_confirm(official)
    code = CODE.search(providers.sms_to(CHENNAI_SECRETARY)[-1]).group(1)
    await official.says(code)
    key = bot.conversation.store.key(Channel.WHATSAPP, CHENNAI_SECRETARY)
    saved = text("SELECT state::text FROM conversation_states WHERE key = :k")
    stale = ConversationState.from_json(await session.scalar(saved, {"k": key}))
    assert (stale.flow, stale.state) == ("announce", "confirm")

    assert "அனுப்பப்படுகிறது" in await official.says("1")
    await put_states(session, [(key, stale)], now=datetime.now(UTC))
    await session.commit()
    assert "அனுப்பப்படுகிறது" in await official.says("1")

    assert await session.scalar(select(func.count()).select_from(Announcement)) == 1


async def test_messages_from_one_address_wait_for_each_other_not_for_others(
    member, bot, engine
) -> None:
    """While one message of a conversation is being handled, the next from the same
    address waits; another member's message does not."""
    busy = member(Channel.WHATSAPP, "+919840011111")
    other = member(Channel.WHATSAPP, "+919840022222")

    async def handled(address: str) -> int:
        async with engine.connect() as conn:
            return await conn.scalar(
                text("SELECT count(*) FROM messages WHERE direction = 'out' AND address = :a"),
                {"a": address},
            )

    key = bot.conversation.store.key(Channel.WHATSAPP, busy.address)
    async with engine.connect() as holder:  # another process, mid-message for ``busy``
        await holder.execute(
            text(conversations.PUT), {"k": key, "state": "{}", "at": datetime.now(UTC)}
        )  # its transaction holds the row's lock until it commits
        waiting = asyncio.create_task(
            busy.post_twilio(fake_twilio.inbound_form("whatsapp:" + busy.address, "hi"))
        )
        answered = await asyncio.wait_for(
            other.post_twilio(fake_twilio.inbound_form("whatsapp:" + other.address, "hi")), 10
        )
        assert answered.status == 200
        assert await handled(other.address) == 1
        assert not waiting.done() and await handled(busy.address) == 0
        await holder.commit()
    response = await asyncio.wait_for(waiting, 10)
    assert response.status == 200
    assert await handled(busy.address) == 1
    await bot.drain()


async def test_an_otp_sms_survives_a_crash_right_after_the_commit(
    member, providers, bot, bot_settings, session, monkeypatch
) -> None:
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    texts_before = len(providers.sms_to(CHENNAI_SECRETARY))

    async def crash(*args, **kwargs):
        raise ConnectionError("the process died here")

    monkeypatch.setattr(effects, "deliver", crash)
    await _to_confirm(official)
    sent = providers.sms_to(CHENNAI_SECRETARY)[texts_before:]
    assert not any(CODE.search(t) for t in sent)  # the code never left

    waiting = list(await session.scalars(select(OutboxEffect)))
    assert [e.kind for e in waiting] == [effects.Kind.CODE_SMS]
    assert not CODE.search(str(waiting[0].payload))  # the row holds no code

    deps = build(bot_settings, MemoryQueue())
    try:
        assert await jobs.deliver_effects(deps) == 0  # left to its writer for a while
        await session.execute(text("UPDATE outbox SET available_at = now()"))
        await session.commit()
        assert await jobs.deliver_effects(deps) == 1
    finally:
        await deps.close()
    code = CODE.search(providers.sms_to(CHENNAI_SECRETARY)[-1]).group(1)
    assert "SMS" in await official.says(code)  # the code that arrived is the right one
    assert await session.scalar(select(func.count()).select_from(OutboxEffect)) == 0


async def test_a_redis_emptied_mid_conversation_loses_no_step(member, providers, bot) -> None:
    """The conversation's state is in PostgreSQL, in each message's transaction: a Redis
    restarted empty (flood counters, buttons, rate buckets gone) costs no question."""
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await official.says("வணக்கம்")
    await official.says("அறிவிப்பு")
    for answer in ("1", "மாவட்டக் கூட்டம்", "கூட்டம்.", "தவிர்", "தவிர்"):
        await official.says(answer)
    await bot.redis.flushdb()
    before = len(providers.sms_to(CHENNAI_SECRETARY))
    assert "SMS" in await official.says("1")  # the "Send?" still answered: a code is sent
    assert len(providers.sms_to(CHENNAI_SECRETARY)) == before + 1
