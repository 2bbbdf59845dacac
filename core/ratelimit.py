"""Token buckets in Redis: how fast each sender may send, shared by every process.

One bucket per provider sender (a WhatsApp number, the Telegram bot, an SMS header),
refilled at the provider's rate. Two lanes take from the same bucket:

- the **priority** lane (replies, OTP codes, officials' notices) may empty it;
- the **bulk** lane (announcements) must leave ``reserve`` tokens in it.

So while bulk sends keep the bucket at its floor, a reply always finds a reserved token
and goes at once; bulk waits for the refill. When no reply comes, bulk runs at the full
rate (it drains everything above the floor as the bucket refills).

The bucket is one Lua script (atomic, Redis's own clock): take up to ``want`` tokens,
return how many were granted and how long until the next one. :class:`Pacer` sits in
front of it in each process and asks for all its waiters' tokens in one call, so a
thousand messages a second cost tens of Redis calls, not thousands.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from core.config import Settings

KEY_PREFIX = "vck:rate:"

_TAKE = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local floor = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local least = math.min(tonumber(ARGV[5]), want)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
end
local granted = math.floor(tokens - floor)
if granted < 0 then granted = 0 end
if granted > want then granted = want end
if granted < least then granted = 0 end
tokens = tokens - granted
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', key, math.ceil(1000 * (capacity / rate + 60)))
local wait = (floor + least - tokens) / rate
if wait < 0 then wait = 0 end
return {granted, tostring(wait)}
"""

_HOLD = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local seconds = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
end
local debt = -rate * seconds
if tokens > debt then tokens = debt end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', key, math.ceil(1000 * (capacity / rate + seconds + 60)))
return 1
"""


class Lane(StrEnum):
    PRIORITY = "priority"
    BULK = "bulk"


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """A sender's bucket: ``rate`` tokens a second, ``reserve`` tokens the bulk lane
    leaves for the priority lane, ``burst`` tokens bulk may bank above that (what a
    sender that fell behind may catch up), ``least`` tokens bulk takes at a time."""

    name: str
    rate: float
    reserve: float
    burst: float
    least: int = 1

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.name

    @property
    def capacity(self) -> float:
        return self.reserve + self.burst

    def floor(self, lane: Lane) -> float:
        return self.reserve if lane is Lane.BULK else 0.0

    @classmethod
    def for_rate(
        cls,
        name: str,
        rate: float,
        *,
        reserve_seconds: float = 0.1,
        burst_seconds: float = 0.1,
        group_seconds: float = 0.01,
    ) -> BucketSpec:
        """``reserve_seconds`` of the rate held for replies; ``burst_seconds`` of it that
        bulk may bank (a sender busy for a moment catches up, an idle one starts at most
        that far ahead); tokens taken ``group_seconds`` at a time, so a slow sender
        still claims and records a few messages per database round trip. Each at least
        one token."""
        if rate <= 0:
            raise ValueError(f"{name}: the rate must be positive")
        least = max(1, math.ceil(rate * group_seconds))
        return cls(
            name=name,
            rate=rate,
            reserve=max(1.0, math.ceil(rate * reserve_seconds)),
            burst=max(float(least), math.ceil(rate * burst_seconds)),
            least=least,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    wait: float
    """Seconds until the next token for this lane."""


class TokenBuckets:
    """The Redis side: one atomic take per call."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)
        self._hold = redis.register_script(_HOLD)

    async def take(
        self, spec: BucketSpec, want: int, lane: Lane = Lane.BULK, *, least: int = 1
    ) -> Grant:
        """Up to ``want`` tokens, but none unless ``least`` are there (so slow senders
        still send in small groups); ``wait`` is how long until ``least`` are."""
        granted, wait = await self._take(
            keys=[spec.key],
            args=[spec.rate, spec.capacity, spec.floor(lane), max(0, want), max(1, least)],
        )
        return Grant(int(granted), float(wait))

    async def hold(self, spec: BucketSpec, seconds: float) -> None:
        """The provider said "slow down" (429, Retry-After): nobody — neither lane, in no
        process — takes a token from this sender for ``seconds``."""
        await self._hold(keys=[spec.key], args=[spec.rate, spec.capacity, max(0.0, seconds)])

    async def reset(self, spec: BucketSpec) -> None:
        await self.redis.delete(spec.key)


def bucket_specs(settings: Settings) -> dict[str, BucketSpec]:
    """Every sender's bucket, rates and the priority share from the settings (FACTS.md
    defaults), the same in every process that sends. Bucket names carry the sender, so
    two numbers (or two bots) never share a bucket."""
    reserve_seconds = settings.rate_reserve_seconds
    bot_id = settings.telegram_bot_token.get_secret_value().split(":", 1)[0]
    senders = {
        "whatsapp": (settings.twilio_whatsapp_from, settings.rate_whatsapp_per_sec),
        "telegram": (f"bot{bot_id}", settings.rate_telegram_per_sec),
        "sms_twilio": (settings.twilio_sms_from, settings.rate_sms_twilio_per_sec),
        "sms_dlt": (settings.dlt_sender_id, settings.rate_sms_dlt_per_sec),
    }
    return {
        kind: BucketSpec.for_rate(f"{kind}:{sender}", rate, reserve_seconds=reserve_seconds)
        for kind, (sender, rate) in senders.items()
    }


class _Waiter:
    __slots__ = ("future", "want")

    def __init__(self, future: asyncio.Future[int], want: int) -> None:
        self.future = future
        self.want = want


class Pacer:
    """This process's door to one bucket and lane: callers wait in line, one task asks
    Redis for everyone's tokens at once and hands them out in order."""

    def __init__(
        self, buckets: TokenBuckets, spec: BucketSpec, lane: Lane, *, max_ask: int = 1000
    ) -> None:
        self.buckets = buckets
        self.spec = spec
        self.lane = lane
        self.max_ask = max_ask
        self._waiters: deque[_Waiter] = deque()
        self._runner: asyncio.Task[None] | None = None

    async def acquire(self, up_to: int = 1) -> int:
        """Wait until at least one token is granted; return how many (1..``up_to``)."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(future, max(1, up_to)))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while True:
            self._drop_cancelled()
            if not self._waiters:
                return
            want = min(self.max_ask, sum(w.want for w in self._waiters))
            least = self.spec.least if self.lane is Lane.BULK else 1
            try:
                grant = await self.buckets.take(self.spec, want, self.lane, least=least)
            except Exception as exc:  # Redis down: fail the waiters, not the process
                while self._waiters:
                    waiter = self._waiters.popleft()
                    if not waiter.future.done():
                        waiter.future.set_exception(exc)
                return
            left = grant.granted
            while left > 0 and self._waiters:
                waiter = self._waiters[0]
                if waiter.future.done():
                    self._waiters.popleft()
                    continue
                given = min(left, waiter.want)
                waiter.future.set_result(given)
                self._waiters.popleft()
                left -= given
            if self._waiters:
                await asyncio.sleep(grant.wait if grant.granted < want else 0)

    def _drop_cancelled(self) -> None:
        while self._waiters and self._waiters[0].future.done():
            self._waiters.popleft()


class Limiter:
    """Every bucket and lane of one process."""

    def __init__(self, redis: Redis, specs: dict[str, BucketSpec]) -> None:
        self.buckets = TokenBuckets(redis)
        self.specs = specs
        self._pacers: dict[tuple[str, Lane], Pacer] = {}

    def pacer(self, kind: str, lane: Lane = Lane.BULK) -> Pacer:
        key = (kind, lane)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = Pacer(self.buckets, self.specs[kind], lane)
        return pacer

    async def acquire(self, kind: str, lane: Lane = Lane.BULK, up_to: int = 1) -> int:
        return await self.pacer(kind, lane).acquire(up_to)

    async def hold(self, kind: str, seconds: float) -> None:
        await self.buckets.hold(self.specs[kind], seconds)

    def describe(self) -> dict[str, Any]:
        return {k: (s.rate, s.reserve, s.burst) for k, s in self.specs.items()}
