"""core.ratelimit: the Redis token bucket, its two lanes, and the per-process pacer.

Only upper bounds on what was granted are asserted (a limiter must never let more
through than the rate allows); timings are measured by benchmarks, not tests."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from core.config import Settings
from core.ratelimit import BucketSpec, Lane, Limiter, Pacer, TokenBuckets, bucket_specs


async def test_bulk_leaves_the_reserve_and_priority_may_take_it(redis: aioredis.Redis) -> None:
    buckets = TokenBuckets(redis)
    spec = BucketSpec(name="test:lanes", rate=1.0, reserve=3, burst=2)
    bulk = await buckets.take(spec, 100, Lane.BULK)
    assert bulk.granted == 2  # the burst above the reserve
    again = await buckets.take(spec, 100, Lane.BULK)
    assert again.granted == 0 and 0 < again.wait <= 1.0
    priority = await buckets.take(spec, 100, Lane.PRIORITY)
    assert priority.granted == 3  # the reserve is the priority lane's
    assert (await buckets.take(spec, 1, Lane.PRIORITY)).granted == 0


async def test_hold_stops_both_lanes(redis: aioredis.Redis) -> None:
    buckets = TokenBuckets(redis)
    spec = BucketSpec(name="test:hold", rate=100.0, reserve=10, burst=5)
    await buckets.hold(spec, 30)
    for lane in Lane:
        grant = await buckets.take(spec, 1, lane)
        assert grant.granted == 0 and grant.wait > 25


async def test_pacer_never_exceeds_the_rate(redis: aioredis.Redis) -> None:
    spec = BucketSpec.for_rate("test:pace", 40.0)
    pacer = Pacer(TokenBuckets(redis), spec, Lane.BULK)
    granted = 0
    started = time.monotonic()

    async def worker() -> None:
        nonlocal granted
        while time.monotonic() - started < 0.5:
            granted += await pacer.acquire(3)

    await asyncio.gather(*(worker() for _ in range(5)))
    elapsed = time.monotonic() - started
    # capacity (burst) + rate × elapsed, plus the grants handed out as the loop ended
    assert granted <= spec.burst + spec.rate * elapsed + 5 * 3
    assert granted > 0


async def test_two_processes_share_one_bucket(redis: aioredis.Redis, redis_url: str) -> None:
    other = aioredis.from_url(redis_url)
    try:
        spec = BucketSpec.for_rate("test:shared", 20.0)
        first = Pacer(TokenBuckets(redis), spec, Lane.BULK)
        second = Pacer(TokenBuckets(other), spec, Lane.BULK)
        granted = 0
        started = time.monotonic()

        async def run(pacer: Pacer) -> None:
            nonlocal granted
            while time.monotonic() - started < 0.5:
                granted += await pacer.acquire(1)

        await asyncio.gather(run(first), run(second))
        elapsed = time.monotonic() - started
        assert granted <= spec.burst + spec.rate * elapsed + 2
    finally:
        await other.aclose()


async def test_a_reply_does_not_wait_behind_bulk(redis: aioredis.Redis, settings: Settings) -> None:
    limiter = Limiter(redis, bucket_specs(settings))
    spec = limiter.specs["whatsapp"]
    stop = asyncio.Event()

    async def bulk() -> None:
        while not stop.is_set():
            await limiter.acquire("whatsapp", Lane.BULK, up_to=10)

    drains = [asyncio.create_task(bulk()) for _ in range(4)]
    await asyncio.sleep(0.2)  # bulk has the bucket at its floor now
    grant = await limiter.buckets.take(spec, 1, Lane.PRIORITY)
    stop.set()
    await asyncio.gather(*drains)
    assert grant.granted == 1


def test_bucket_specs_come_from_settings(settings: Settings) -> None:
    specs = bucket_specs(settings)
    assert specs["whatsapp"].rate == settings.rate_whatsapp_per_sec
    assert specs["telegram"].rate == settings.rate_telegram_per_sec
    assert specs["sms_dlt"].rate == settings.rate_sms_dlt_per_sec
    assert specs["sms_twilio"].rate == settings.rate_sms_twilio_per_sec
    assert specs["whatsapp"].name.endswith(settings.twilio_whatsapp_from)
    assert all(s.reserve >= 1 and s.burst >= 1 for s in specs.values())
