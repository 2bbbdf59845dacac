"""A member who floods is slowed, not the others: per-address inbound limits."""

from __future__ import annotations

import asyncio
import itertools
import time

from sqlalchemy import func, select

from bot import flood
from core.channels.base import Channel
from core.i18n import Language, in_language
from core.models import Message
from fakes import telegram as fake_telegram

FLOODER, OTHER = 555000201, 555000202
_ids = itertools.count(70_000)


def texts_to(providers, chat_id: int) -> list[str]:
    return [
        str(m["text"])
        for m in providers.telegram.sent
        if m.get("method") == "sendMessage" and str(m.get("chat_id")) == str(chat_id)
    ]


async def stored_from(session, chat_id: int) -> int:
    query = select(func.count()).select_from(Message)
    query = query.where(Message.direction == "in", Message.address == str(chat_id))
    return await session.scalar(query)


async def post(m, chat_id: int, *, twice: bool = False) -> None:
    """One new message from ``chat_id``; ``twice`` sends it again as a provider retry."""
    update = fake_telegram.text_update(next(_ids), chat_id, "hello")
    for _ in range(2 if twice else 1):
        response = await m.post_telegram(update)
        assert response.status == 200, await response.text()


def test_the_slow_down_is_one_message_in_tamil_then_english() -> None:
    text = flood.slow_down_reply().text
    tamil, english = text.split("\n")
    assert english == "You are sending messages very fast. Please wait a few seconds and try again."
    assert tamil == in_language(Language.TAMIL, flood.SLOW_DOWN) != english


async def test_a_member_who_floods_is_slowed_and_the_others_are_not(
    member, bot, providers, session, client, redis
) -> None:
    window = 2.5
    bot.settings = bot.settings.model_copy(
        update={"inbound_limit_messages": 20, "inbound_limit_window_seconds": window}
    )
    flooder, other = member(Channel.TELEGRAM, str(FLOODER)), member(Channel.TELEGRAM, str(OTHER))
    started = time.monotonic()
    # 30 at once from one member; meanwhile another member writes 5 times, each message
    # also retried by the provider (the retries must not count against them).
    await asyncio.gather(
        *(post(flooder, FLOODER) for _ in range(30)),
        *(post(other, OTHER, twice=True) for _ in range(5)),
    )
    assert time.monotonic() - started < window, "the burst must land within one window"

    flooded = texts_to(providers, FLOODER)
    slow_down = flood.slow_down_reply().text
    assert len(flooded) == 21 and flooded.count(slow_down) == 1
    assert await stored_from(session, FLOODER) == 20  # the rest was dropped, not stored
    answered = texts_to(providers, OTHER)
    assert len(answered) == 5 and slow_down not in answered

    metrics = await (await client.get("/metrics")).text()
    assert 'vck_inbound_flooded_total{channel="telegram",verdict="drop"} 9.0' in metrics
    assert 'vck_inbound_flooded_total{channel="telegram",verdict="slow_down"} 1.0' in metrics

    left = await redis.pttl(flood.counter_key(bot.settings, "telegram", str(FLOODER)))
    await asyncio.sleep(max(left, 0) / 1000 + 0.05)
    await post(flooder, FLOODER)
    again = texts_to(providers, FLOODER)[21:]
    assert len(again) == 1 and again[0] != slow_down  # a new window: answered again


async def test_a_retried_message_counts_once_and_the_slow_down_is_not_repeated(
    member, bot, providers
) -> None:
    """Twilio retries a webhook it timed out on: the copy keeps the first one's verdict."""
    bot.settings = bot.settings.model_copy(
        update={"inbound_limit_messages": 3, "inbound_limit_window_seconds": 30.0}
    )
    m = member(Channel.WHATSAPP, "+919840300301")
    for _ in range(3):  # the harness sends each message twice, as a retry would
        assert await m.says("hi")
    slow_down = flood.slow_down_reply().text
    assert await m.says("hi") == slow_down  # the fourth, and its retry is not answered
    assert await m.says("hi") == ""  # the fifth is dropped
