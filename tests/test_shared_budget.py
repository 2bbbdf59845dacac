"""Replies share the provider's budget (issue 10.4): while an announcement drains at
the full WhatsApp rate, members' replies sent inline by the bot take their tokens from
the priority share of the same Redis bucket, so the provider — a fake that answers 429
to whatever goes over its rate — refuses nothing: every reply goes at once, every
member gets the announcement once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel, Reply
from core.config import Settings
from core.jobs import PRIORITY_QUEUE, redis_jobs
from core.outbound import Dispatcher, NowOrQueued, PriorityTokens, Senders
from core.ratelimit import Limiter, bucket_specs
from fakes.common import Failure, FakeProvider
from notifier.bootstrap import Deps, NotifierOptions, build
from tests.factories import Tree
from tests.memory_queue import MemoryQueue
from tests.test_worker import Fakes, drain, fakes, publish, tree  # noqa: F401  (fixtures)

RATE = 40.0
MEMBERS = 160  # four seconds of the rate

MEMBERS_SQL = """
WITH m AS (
  INSERT INTO members (first_name, phone, status, language)
  SELECT 'Budget', '+91976' || lpad(i::text, 7, '0'), 'active', 'ta'
  FROM generate_series(1, :n) AS i
  RETURNING id, phone
), units AS (
  INSERT INTO member_units (member_id, unit_id, is_primary) SELECT id, :unit, true FROM m
)
INSERT INTO channel_addresses (channel, address, phone, member_id, last_inbound_at)
SELECT 'whatsapp', phone, phone, id, now() FROM m
"""


class ProviderLimit:
    """A provider's own metering: a token bucket of ``rate`` a second holding at most
    ``burst``; a request that finds it empty is answered 429 (and counted)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at: float | None = None
        self.refused = 0
        self.arrivals: list[float] = []
        """When each accepted request came (the event loop's clock)."""

    def install(self, fake: FakeProvider) -> None:
        loop = asyncio.get_running_loop()
        original = fake._take_failure

        def take() -> Failure | None:
            failure = original()
            if failure is not None:
                return failure
            if self.over(loop.time()):
                return Failure(status=429, code=20429, retry_after=1)
            return None

        fake._take_failure = take  # type: ignore[method-assign]

    def over(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.arrivals.append(now)
            return False
        self.refused += 1
        return True


@pytest.fixture
async def limited(settings: Settings, fakes: Fakes) -> AsyncIterator[Deps]:  # noqa: F811
    rated = settings.model_copy(
        update={
            "twilio_api_base_url": fakes.twilio.base_url,
            "telegram_api_base_url": fakes.telegram.base_url,
            "dlt_api_base_url": fakes.dlt.base_url,
            "rate_whatsapp_per_sec": RATE,
            "fanout_batch_size": 40,
        }
    )
    built = build(rated, MemoryQueue(), options=NotifierOptions(lease_seconds=5))
    await built.limiter.buckets.reset(built.limiter.specs["whatsapp"])
    yield built
    await built.close()


async def test_replies_during_a_full_rate_drain_never_meet_a_429(
    limited: Deps,
    fakes: Fakes,  # noqa: F811
    session: AsyncSession,
    tree: Tree,  # noqa: F811
    redis: aioredis.Redis,
) -> None:
    deps = limited
    spec = deps.limiter.specs["whatsapp"]
    # The provider allows what the shared bucket may hand out (the rate, and its
    # capacity at once) plus 0.1 s of the rate for network jitter — nothing more.
    provider = ProviderLimit(RATE, spec.capacity + 0.1 * RATE)
    provider.install(fakes.twilio)
    await session.execute(text(MEMBERS_SQL), {"n": MEMBERS, "unit": tree.booth_a1.id})
    await session.commit()
    aid, summary = await publish(deps, session, tree.booth_a1.code)
    assert summary["rows"] == MEMBERS

    # The bot's side, as bot/bootstrap.py builds it: its own limiter on the same Redis.
    senders = Senders.from_settings(deps.settings)
    dispatcher = Dispatcher(senders, deps.settings)
    tokens = PriorityTokens(Limiter(redis, bucket_specs(deps.settings)), dispatcher, strict=False)
    bot = NowOrQueued(dispatcher, redis_jobs(redis), deps.engine, tokens)
    answered: list[str | None] = []

    async def members_write(stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            reply = Reply(f"Thank you, member {n}.")
            answered.append(await bot.send(Channel.WHATSAPP, f"+9199{n:08d}", reply))
            n += 1
            await asyncio.sleep(0.05)  # 20 replies a second: half the rate again

    stop = asyncio.Event()
    writing = asyncio.create_task(members_write(stop))
    try:
        results: list[Any] = await drain(deps, aid)
    finally:
        stop.set()
        await writing
        await senders.close()

    assert all(r["state"] == "done" for r in results)
    assert len(answered) >= 20  # replies went while the drain ran at full rate
    assert provider.refused == 0, f"{provider.refused} requests over the provider's rate"
    assert None not in answered  # every reply went at once, none waited in the outbox
    got = Counter(
        m["To"].removeprefix("whatsapp:") for m in fakes.twilio.sent if "+91976" in m["To"]
    )
    assert len(got) == MEMBERS and set(got.values()) == {1}


async def test_a_reply_that_finds_the_bucket_held_goes_to_the_priority_lane(
    limited: Deps,
    fakes: Fakes,  # noqa: F811
    redis: aioredis.Redis,
) -> None:
    """The provider said "slow down" for a minute (the bucket is held): a reply does not
    wait a minute in the bot; it becomes an outbox row with a priority-lane job."""
    deps = limited
    await deps.limiter.hold("whatsapp", 60)
    senders = Senders.from_settings(deps.settings)
    dispatcher = Dispatcher(senders, deps.settings)
    tokens = PriorityTokens(Limiter(redis, bucket_specs(deps.settings)), dispatcher, strict=False)
    bot = NowOrQueued(dispatcher, redis_jobs(redis), deps.engine, tokens)
    try:
        assert await bot.send(Channel.WHATSAPP, "+919900000077", Reply("Thank you.")) is None
    finally:
        await senders.close()
    assert fakes.twilio.sent == []
    async with deps.engine.connect() as conn:
        (kind,) = (await conn.execute(text("SELECT kind FROM outbox"))).scalars().all()
    assert kind == "reply"
    assert await redis.zcard(PRIORITY_QUEUE) == 1
