"""``python -m benchmarks workers``: two workers, one budget (issue 10.6).

One announcement to ``VCK_BENCH_WORKERS_MEMBERS`` members (default 50,000), all on
WhatsApp inside their window, sent to a fake Twilio that answers in 10 ms:

1. **speed**: with no rate limit, drained by one ``vck worker``, then by two (as on two
   machines: one Redis, one PostgreSQL). Prints the two-worker sends/s (figure) against
   the one-worker sends/s (floor) and the ratio — near 2 when the CPU allows (each
   worker is two processes; on a two-core machine beside PostgreSQL they contend);
2. **pacing**: two workers at ``VCK_BENCH_WORKERS_RATE`` (default 600/s): the busiest
   one-second window of arrivals against the configured rate (figure, floor, ratio)
   and how many full windows went over it.

Its own database (``VCK_BENCH_WORKERS_DB``, default ``vck_bench_workers``, recreated)
and Redis database (``VCK_BENCH_WORKERS_REDIS_DB``, default 14), both emptied.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text

from benchmarks.common import (
    Child,
    database_url,
    migrated_database,
    redis_url,
    stop_all,
    venv_script,
)
from core import announcements
from core.config import load_settings
from core.db import make_engine, make_session_factory
from core.jobs import redis_jobs
from fakes.common import Failure
from fakes.twilio import FakeTwilio

MEMBERS = int(os.environ.get("VCK_BENCH_WORKERS_MEMBERS", "50000"))
RATE = int(os.environ.get("VCK_BENCH_WORKERS_RATE", "600"))
REDIS_DB = int(os.environ.get("VCK_BENCH_WORKERS_REDIS_DB", "14"))
LATENCY = 0.010
UNLIMITED = "100000"

SEED_SQL = [
    "INSERT INTO organization_units (name, code, type, path, is_active)"
    " VALUES ('Bench State', 'WB', 'state', 'WB', true)",
    """
    WITH m AS (
      INSERT INTO members (first_name, phone, status, language)
      SELECT 'Bench', '+91975' || lpad(i::text, 7, '0'), 'active', 'ta'
      FROM generate_series(1, :n) AS i
      RETURNING id, phone
    ), units AS (
      INSERT INTO member_units (member_id, unit_id, is_primary)
      SELECT m.id, u.id, true FROM m, organization_units u WHERE u.code = 'WB'
    )
    INSERT INTO channel_addresses (channel, address, phone, member_id, last_inbound_at)
    SELECT 'whatsapp', phone, phone, id, now() FROM m
    """,
]


class CountingTwilio(FakeTwilio):
    """The fake Twilio, noting when each accepted message arrived."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.arrivals: list[float] = []
        self.target = 0
        self.reached: asyncio.Event | None = None

    def _take_failure(self) -> Failure | None:
        failure = super()._take_failure()
        if failure is None:
            self.arrivals.append(time.perf_counter())
            if self.reached is not None and len(self.arrivals) >= self.target:
                self.reached.set()
        return failure


class Bench:
    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = load_settings().model_copy(
            update={"database_url": url, "redis_url": redis_url(REDIS_DB)}
        )
        self.engine = make_engine(url, pool_size=2)
        self.sessions = make_session_factory(self.engine)
        self.redis = Redis.from_url(self.settings.redis_url)
        self.twilio = CountingTwilio(
            account_sid=self.settings.twilio_account_sid,
            auth_token=self.settings.twilio_auth_token.get_secret_value(),
            latency=LATENCY,
        )
        self.logs = Path(mkdtemp(prefix="vck-bench-workers-"))

    async def clean(self) -> None:
        async with self.sessions.begin() as session:
            await session.execute(text("TRUNCATE announcement_deliveries"))
            await session.execute(text("DELETE FROM announcements"))
        await self.redis.flushdb()
        self.twilio.reset()
        self.twilio.arrivals.clear()

    def workers(self, n: int, rate: str, name: str) -> list[Child]:
        env = {
            "VCK_DATABASE_URL": self.url,
            "VCK_REDIS_URL": self.settings.redis_url,
            "VCK_TWILIO_API_BASE_URL": self.twilio.base_url,
            "VCK_RATE_WHATSAPP_PER_SEC": rate,
            "VCK_FANOUT_BATCH_SIZE": "500",
            # Each worker takes a share of the batches, not all of them at its first poll.
            "VCK_NOTIFIER_MAX_JOBS": "4",
            "VCK_LOG_LEVEL": "INFO",
        }
        return [
            Child([venv_script("vck"), "worker"], env=env, log=self.logs / f"{name}-{i}.log")
            for i in range(n)
        ]

    async def up(self, children: list[Child]) -> None:
        async with asyncio.timeout(120):
            while not all("lanes bulk" in child.tail(50) for child in children):
                if not all(child.alive() for child in children):
                    raise RuntimeError("a worker died: " + " | ".join(c.tail(5) for c in children))
                await asyncio.sleep(0.2)

    async def drain(self) -> tuple[float, int]:
        """Publish one announcement to everyone; sends/s between 10 % and 90 % sent."""
        async with self.sessions.begin() as session:
            created = await announcements.create(
                session, official_member_id=None, unit_code="WB", title="bench: workers",
                content="The district meeting is on Sunday at 10 am.", title_ta="கூட்டம்",
                content_ta="மாவட்டக் கூட்டம் ஞாயிறு காலை 10 மணிக்கு.",
                now=datetime.now(UTC), settings=self.settings,
            )  # fmt: skip
        assert isinstance(created, announcements.Created), created
        self.twilio.target, self.twilio.reached = MEMBERS, asyncio.Event()
        await redis_jobs(self.redis).schedule_publish(created.announcement_id)
        async with asyncio.timeout(max(120.0, MEMBERS / 50)):
            await self.twilio.reached.wait()
        times = sorted(self.twilio.arrivals)
        low, high = times[len(times) // 10], times[(9 * len(times)) // 10]
        rate = (0.8 * len(times)) / max(1e-9, high - low)
        return rate, len({m["To"] for m in self.twilio.sent})


def busiest_windows(times: list[float], limit: float) -> tuple[int, int]:
    """The busiest full one-second window of arrivals, and how many went over ``limit``."""
    start = min(times)
    counts: dict[int, int] = defaultdict(int)
    for t in times:
        counts[int(t - start)] += 1
    full = [counts[i] for i in range(1, int(max(times) - start))]
    return (max(full) if full else 0), sum(1 for c in full if c > limit)


async def _run(url: str) -> None:
    bench = Bench(url)
    await bench.twilio.start()
    try:
        async with bench.sessions.begin() as session:
            for statement in SEED_SQL:
                await session.execute(text(statement), {"n": MEMBERS})
        rates: dict[int, float] = {}
        for n in (1, 2):
            await bench.clean()
            children = bench.workers(n, UNLIMITED, f"speed{n}")
            try:
                await bench.up(children)
                rates[n], reached = await bench.drain()
            finally:
                stop_all(children)
            print(
                f"{n} worker(s), no rate limit, provider answers in 10 ms: {rates[n]:,.0f} "
                f"sends/s ({reached:,} of {MEMBERS:,} members, each once: "
                f"{len(bench.twilio.sent) == reached})",
                flush=True,
            )
        print(
            f"two workers' sends/s: figure {rates[2]:,.0f}, floor (one worker) "
            f"{rates[1]:,.0f}, ratio {rates[2] / rates[1]:.2f}",
            flush=True,
        )
        await bench.clean()
        children = bench.workers(2, str(RATE), "pacing")
        try:
            await bench.up(children)
            _, reached = await bench.drain()
        finally:
            stop_all(children)
        busiest, over = busiest_windows(bench.twilio.arrivals, RATE)
        print(
            f"two workers paced at {RATE}/s: busiest one-second window {busiest} "
            f"(figure), floor {RATE} (the configured rate), ratio {busiest / RATE:.3f}; "
            f"{over} full windows over the rate; {reached:,} members each once: "
            f"{len(bench.twilio.sent) == reached == MEMBERS}",
            flush=True,
        )
    finally:
        await bench.twilio.stop()
        await bench.redis.aclose()
        await bench.engine.dispose()


def main() -> None:
    url = database_url(os.environ.get("VCK_BENCH_WORKERS_DB", "vck_bench_workers"))
    asyncio.run(migrated_database(url))
    asyncio.run(_run(url))


if __name__ == "__main__":
    main()
