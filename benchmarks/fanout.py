"""Announcement fan-out: publish → rows → batches, sending speed, pacing, the priority
lane (issue 4). Needs the synthetic million (``python -m benchmarks synthetic``; loaded
here when ``vck_bench`` has too few members).

Figures, one line each:

- fan-out time for a state-wide announcement (~1M members), a district (~42k) and a
  booth: from the publish job's start until every delivery row is written (one
  ``INSERT … SELECT``) and every batch job enqueued — best and median of a few runs;
- the worker's peak memory (VmHWM) during the state-wide fan-out;
- sustained sends/s from one worker process to loopback fake providers answering in
  10 ms, with the rate limits (and Telegram's in-flight cap, which stands for its
  30/s) out of the way;
- pacing against configured limits: the largest deviation of any full one-second window
  from the configured rate;
- reply latency (p50, p99) through the priority lane while the state-wide (~1M)
  announcement drains at full speed.

Each figure is also printed beside its floor, measured in the same run, with the ratio
(issue 10.7): the state-wide fan-out against an ``INSERT … SELECT`` of as many rows
with a unique key into a fresh table like the delivery table (target ≤ 2 ×); sends/s
against a bare aiohttp client posting to the same fake with the worker's concurrency
in its own process (``benchmarks/bare_client.py``, half before and half after the
drain; target ≥ 0.5 ×; the worker's CPU per message is printed too, steadier on a
shared machine); pacing's busiest
window against the configured rate (±1 %); reply p99 against 300 ms.

Setup: database ``vck_bench`` (``VCK_BENCH_DB``), Redis database 13
(``VCK_BENCH_FANOUT_REDIS_DB``; flushed), the fake
providers in this process (their arrival times are the measurements), the worker
(``vck worker``) as a child process, restarted for each phase with that phase's limits.
Delivery rows and the benchmark's announcements are removed before and after.

Environment: ``VCK_BENCH_FANOUT_PHASES`` [times,throughput,pacing,replies],
``VCK_BENCH_FANOUT_REPEAT`` [3], ``VCK_BENCH_FANOUT_DRAIN_SECONDS`` [40, cap on the
throughput phase], ``VCK_BENCH_FANOUT_PACING_SECONDS`` [12],
``VCK_BENCH_FANOUT_FLOOR_SECONDS`` [8, the bare client's run],
``VCK_BENCH_FANOUT_REPLY_SECONDS`` [60, cap on the reply phase].

Run: ``uv run python -m benchmarks fanout`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text

from benchmarks.common import Child, database_url, redis_url, venv_script
from core import announcements
from core.channels.base import Channel, Reply
from core.config import load_settings
from core.db import make_engine, make_session_factory, sync_url
from core.jobs import redis_jobs
from core.migrate import upgrade
from core.outbound import queue_reply
from fakes.dlt import FakeDlt, registered_templates
from fakes.telegram import FakeTelegram
from fakes.twilio import FakeTwilio
from notifier.worker import publish_result

REDIS_DB = int(os.environ.get("VCK_BENCH_FANOUT_REDIS_DB", "13"))
STATE, DISTRICT, BOOTH = "TN", "TN.SLM", "TN.CHN.AC018.B0001"
TITLE = "bench: fan-out"
LATENCY = 0.010
UNLIMITED = "100000"
PHASES = ("times", "throughput", "pacing", "replies")
CONCURRENCY = 128  # the worker's messages in flight per sender (VCK_NOTIFIER_CONCURRENCY)
ANNOUNCEMENT_TEMPLATES = ("1107000000000000010", "1107000000000000011")


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# --- fake providers that note when each message arrived ----------------------------------


class Arrivals:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.replies: dict[str, float] = {}

    def note(self, request: web.Request, body: str | None) -> None:
        arrived = float(request.get("arrived", time.perf_counter()))
        if body and body.startswith("bench-reply-"):
            self.replies[body] = arrived
        else:
            self.times.append(arrived)

    def clear(self) -> None:
        self.times.clear()
        self.replies.clear()


@web.middleware
async def _stamp(request: web.Request, handler: Any) -> web.StreamResponse:
    request["arrived"] = time.perf_counter()
    response: web.StreamResponse = await handler(request)
    return response


class TimedTwilio(FakeTwilio):
    arrivals = Arrivals()

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.middlewares.insert(0, _stamp)
        return app

    async def _messages(self, request: web.Request) -> web.Response:
        response = await super()._messages(request)
        if response.status < 300:
            self.arrivals.note(request, str((await request.post()).get("Body") or ""))
        self.sent.clear()  # a million records would only cost memory
        return response


class TimedDlt(FakeDlt):
    arrivals = Arrivals()

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.middlewares.insert(0, _stamp)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        response = await super()._send(request)
        if response.status < 300:
            self.arrivals.note(request, None)
        self.sent.clear()
        return response


class TimedTelegram(FakeTelegram):
    arrivals = Arrivals()

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.middlewares.insert(0, _stamp)
        return app

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        response = await super()._send_message(params)
        self.arrivals.times.append(time.perf_counter())
        self.sent.clear()
        self.calls.clear()
        return response


# --- the pieces ----------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = load_settings().model_copy(
            update={"database_url": url, "redis_url": redis_url(REDIS_DB)}
        )
        self.engine = make_engine(url, pool_size=2)
        self.sessions = make_session_factory(self.engine)
        self.redis = Redis.from_url(self.settings.redis_url)
        self.twilio = TimedTwilio.from_settings(self.settings, latency=LATENCY)
        self.telegram = TimedTelegram.from_settings(self.settings, latency=LATENCY)
        self.dlt = TimedDlt.from_settings(
            self.settings,
            latency=LATENCY,
            templates={
                **registered_templates(self.settings),
                **dict.fromkeys(ANNOUNCEMENT_TEMPLATES),
            },
        )
        self.worker: Child | None = None
        self.logs = Path(tempfile.mkdtemp(prefix="vck-bench-fanout-"))

    async def start(self) -> None:
        async with self.sessions() as session:  # whatever ids this database's templates carry
            ids = await session.scalars(
                text(
                    "SELECT dlt_template_id FROM message_templates"
                    " WHERE dlt_template_id IS NOT NULL"
                )
            )
            self.dlt.templates.update(dict.fromkeys(ids))
        for fake in (self.twilio, self.telegram, self.dlt):
            await fake.start()

    async def close(self) -> None:
        self.stop_worker()
        await self.clean()
        for fake in (self.twilio, self.telegram, self.dlt):
            await fake.stop()
        await self.redis.aclose()
        await self.engine.dispose()

    def start_worker(
        self, name: str, *, extra: dict[str, str] | None = None, **rates: str
    ) -> Child:
        self.stop_worker()
        env = {
            **(extra or {}),
            "VCK_DATABASE_URL": self.url,
            "VCK_REDIS_URL": self.settings.redis_url,
            "VCK_TWILIO_API_BASE_URL": self.twilio.base_url,
            "VCK_TELEGRAM_API_BASE_URL": self.telegram.base_url,
            "VCK_DLT_API_BASE_URL": self.dlt.base_url,
            "VCK_LOG_LEVEL": os.environ.get("VCK_BENCH_FANOUT_LOG", "WARNING"),
            **{f"VCK_RATE_{k.upper()}_PER_SEC": v for k, v in rates.items()},
        }
        self.worker = Child([venv_script("vck"), "worker"], env=env, log=self.logs / f"{name}.log")
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    async def clean(self) -> None:
        """No delivery rows, no benchmark announcements, an empty Redis database."""
        async with self.sessions.begin() as session:
            await session.execute(text("TRUNCATE announcement_deliveries"))
            await session.execute(text("DELETE FROM announcements WHERE title = :t"), {"t": TITLE})
        await self.redis.flushdb()
        for fake in (self.twilio, self.telegram, self.dlt):
            fake.reset()
            fake.arrivals.clear()

    async def announce(self, unit_code: str) -> uuid.UUID:
        async with self.sessions.begin() as session:
            created = await announcements.create(
                session,
                official_member_id=None,
                unit_code=unit_code,
                title=TITLE,
                content="The district meeting is on Sunday at 10 am.",
                title_ta="கூட்டம்",
                content_ta="மாவட்டக் கூட்டம் ஞாயிறு காலை 10 மணிக்கு.",
                sms_text="Meeting Sunday 10am",
                now=datetime.now(UTC),
                settings=self.settings,
            )
        assert isinstance(created, announcements.Created), created
        return created.announcement_id

    async def publish(self, unit_code: str) -> tuple[uuid.UUID, dict[str, Any]]:
        announcement_id = await self.announce(unit_code)
        await redis_jobs(self.redis).schedule_publish(announcement_id)
        async with asyncio.timeout(300):
            summary = await publish_result(self.redis, announcement_id)
        return announcement_id, summary

    async def cancel(self, announcement_id: uuid.UUID) -> None:
        async with self.sessions.begin() as session:
            await announcements.cancel(session, announcement_id, now=datetime.now(UTC))

    async def sent(self, announcement_id: uuid.UUID) -> int:
        async with self.sessions() as session:
            value = await session.scalar(
                text(
                    "SELECT count(*) FROM announcement_deliveries WHERE announcement_id = :a"
                    " AND status IN ('sent', 'delivered', 'read')"
                ),
                {"a": announcement_id},
            )
        return int(value or 0)

    def arrived(self) -> int:
        """Announcement messages the fake providers accepted so far."""
        return sum(len(f.arrivals.times) for f in (self.twilio, self.telegram, self.dlt))

    async def wait_worker(self) -> None:
        """A tiny announcement goes through: the worker is up and warm."""
        announcement_id, _ = await self.publish(BOOTH)
        await self.cancel(announcement_id)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_second_windows(times: list[float]) -> list[int]:
    """Arrivals per full one-second window (the partial first and last are dropped)."""
    if len(times) < 2:
        return []
    start = min(times)
    counts: dict[int, int] = defaultdict(int)
    for t in times:
        counts[int(t - start)] += 1
    last = int(max(times) - start)
    return [counts[i] for i in range(1, last)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the phases ------------------------------------------------------------------------------


FLOOR_TABLE = "bench_fanout_floor"


async def insert_floor(bench: Bench, rows: int) -> float:
    """Seconds an ``INSERT … SELECT`` of ``rows`` delivery-shaped rows (the members' ids,
    a unique key on (announcement, member)) takes into a fresh table like the delivery
    table: the floor of the fan-out's write."""
    conn = await asyncpg.connect(sync_url(bench.url))
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        await conn.execute(
            f"CREATE TABLE {FLOOR_TABLE} (LIKE announcement_deliveries INCLUDING DEFAULTS,"
            " PRIMARY KEY (announcement_id, member_id))"
        )
        started = time.perf_counter()
        await conn.execute(
            f"INSERT INTO {FLOOR_TABLE} (announcement_id, member_id, batch, channel, provider,"
            " address, language)"
            " SELECT $1, id, 0, 'whatsapp', 'twilio', phone, language FROM members LIMIT $2",
            uuid.uuid4(),
            rows,
        )
        return time.perf_counter() - started
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        await conn.close()


async def fanout_times(bench: Bench, repeat: int) -> None:
    for label, unit in (("booth", BOOTH), ("district", DISTRICT), ("state-wide", STATE)):
        seconds, rows, batches, peak = [], 0, 0, 0.0
        floors: list[float] = []
        for _ in range(repeat if unit != STATE else max(1, repeat - 1)):
            await bench.clean()
            worker = bench.start_worker(f"fanout-{label}")
            await bench.wait_worker()
            announcement_id, summary = await bench.publish(unit)
            seconds.append(summary["seconds"])
            rows, batches = summary["rows"], summary["batches"]
            peak = max(peak, peak_rss_mb(worker.pid))
            await bench.cancel(announcement_id)
            bench.stop_worker()
            if unit == STATE:  # the floor, beside each state-wide run
                await bench.clean()
                floors.append(await insert_floor(bench, rows))
        best, median = min(seconds), statistics.median(seconds)
        print(
            f"fan-out {label} ({rows:,} members, {batches:,} batch jobs): {best:.3f} s "
            f"(median {median:.3f} s of {len(seconds)})",
            flush=True,
        )
        if floors:
            floor = min(floors)
            print(
                f"fan-out state-wide: figure {best:.3f} s, floor {floor:.3f} s (INSERT … SELECT"
                f" of {rows:,} rows with a unique key), ratio {best / floor:.2f} (target ≤ 2)",
                flush=True,
            )
        if unit == STATE:
            print(f"worker peak memory during the state-wide fan-out: {peak:.0f} MB", flush=True)


async def bare_client(bench: Bench, seconds: float) -> float:
    """Messages/s a bare aiohttp client (its own process) gets from the Twilio fake with
    the worker's concurrency: the floor of the worker's sending speed."""
    child = Child(
        [
            sys.executable,
            "-m",
            "benchmarks.bare_client",
            bench.twilio.base_url,
            bench.twilio.account_sid,
            bench.twilio.auth_token,
            str(CONCURRENCY),
            str(seconds),
        ],
        log=bench.logs / "bare-client.log",
    )
    await asyncio.to_thread(child.process.wait)
    child.stop()
    words = (child.tail(1) or "").split()
    bench.twilio.arrivals.clear()
    if len(words) != 4 or words[0] != "sent":
        raise RuntimeError(f"bare client: {child.tail()}")
    return int(words[1]) / float(words[3])


async def throughput(bench: Bench, cap: float, floor_seconds: float) -> None:
    await bench.clean()
    floor_before = await bare_client(bench, floor_seconds / 2)
    worker = bench.start_worker(
        "throughput",
        # Telegram's cap on messages in flight (8) is there for its 30/s limit: lifted
        # with the rates, or Telegram's share of the district holds back every batch.
        extra={"VCK_NOTIFIER_TELEGRAM_CONCURRENCY": "128"},
        whatsapp=UNLIMITED,
        telegram=UNLIMITED,
        sms_dlt=UNLIMITED,
        sms_twilio=UNLIMITED,
    )
    await bench.wait_worker()
    base = bench.arrived()
    announcement_id, summary = await bench.publish(DISTRICT)
    total = summary["rows"]
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    cpu_started = worker.cpu_seconds()
    while time.perf_counter() - started < cap:
        done = bench.arrived() - base
        samples.append((time.perf_counter(), done))
        if done >= total:
            break
        await asyncio.sleep(0.5)
    low = [s for s in samples if s[1] >= 0.1 * samples[-1][1]]
    high = [s for s in samples if s[1] <= 0.9 * samples[-1][1]]
    if low and high and high[-1][0] > low[0][0]:
        rate = (high[-1][1] - low[0][1]) / (high[-1][0] - low[0][0])
    else:
        rate = samples[-1][1] / max(1e-9, samples[-1][0] - started)
    print(
        f"sustained sends from one worker (providers answer in 10 ms): {rate:,.0f} messages/s "
        f"({samples[-1][1]:,} of {total:,} sent in {samples[-1][0] - started:.1f} s)",
        flush=True,
    )
    cpu_ms = (worker.cpu_seconds() - cpu_started) * 1000 / max(1, samples[-1][1])
    await bench.cancel(announcement_id)
    bench.stop_worker()
    # The machine is shared: the floor is measured half before and half after the drain.
    floor = (floor_before + await bare_client(bench, floor_seconds / 2)) / 2
    print(
        f"worker CPU per message sent: {cpu_ms:.2f} ms; floor before/after the drain: "
        f"{floor_before:,.0f}/s, {2 * floor - floor_before:,.0f}/s",
        flush=True,
    )
    print(
        f"sends/s: figure {rate:,.0f}, floor {floor:,.0f} (a bare aiohttp client, "
        f"{CONCURRENCY} in flight, same fake), ratio {rate / floor:.2f} (target ≥ 0.5)",
        flush=True,
    )


async def pacing(bench: Bench, seconds: float) -> None:
    limits = {"whatsapp": 80, "sms_dlt": 200, "telegram": 30}
    await bench.clean()
    bench.start_worker("pacing", **{k: str(v) for k, v in limits.items()})
    await bench.wait_worker()
    for fake in (bench.twilio, bench.telegram, bench.dlt):
        fake.arrivals.clear()
    announcement_id, _ = await bench.publish(DISTRICT)
    await asyncio.sleep(seconds)
    await bench.cancel(announcement_id)
    bench.stop_worker()
    for kind, fake in (
        ("whatsapp", bench.twilio),
        ("sms_dlt", bench.dlt),
        ("telegram", bench.telegram),
    ):
        windows = one_second_windows(fake.arrivals.times)
        rate = limits[kind]
        if not windows:
            print(f"pacing {kind} at {rate}/s: no full window", flush=True)
            continue
        worst = max(abs(n - rate) / rate for n in windows)
        print(
            f"pacing {kind} at {rate}/s: max deviation of a one-second window ±{worst:.1%} "
            f"({len(windows)} windows, {min(windows)}–{max(windows)} per window); "
            f"figure {max(windows)}/s busiest, floor {rate}/s (configured), "
            f"ratio {max(windows) / rate:.3f} (target within ±1 %)",
            flush=True,
        )


async def reply_latency(bench: Bench, seconds: float) -> None:
    """Replies through the priority lane while the whole state-wide announcement drains
    (for ``seconds`` at most: a million messages take minutes)."""
    await bench.clean()
    bench.start_worker(
        "priority", whatsapp=UNLIMITED, telegram=UNLIMITED, sms_dlt=UNLIMITED, sms_twilio=UNLIMITED
    )
    await bench.wait_worker()
    announcement_id, _summary = await bench.publish(STATE)
    async with bench.sessions.begin() as session:
        queued = await session.scalar(
            text(
                "SELECT count(*) FROM announcement_deliveries"
                " WHERE announcement_id = :a AND status = 'queued'"
            ),
            {"a": announcement_id},
        )
    base = bench.arrived()
    sent_at: dict[str, float] = {}
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        body = f"bench-reply-{n}"
        sent_at[body] = time.perf_counter()
        await queue_reply(bench.engine, redis_jobs(bench.redis), Channel.WHATSAPP,
                          f"+9199{n % 10**8:08d}", Reply(body))  # fmt: skip
        n += 1
        await asyncio.sleep(0.05)
        if bench.arrived() - base >= queued:  # drained: later replies would wait for nothing
            break
    drained = bench.arrived() - base
    await asyncio.sleep(1.0)
    arrived = bench.twilio.arrivals.replies
    latencies = [arrived[b] - t for b, t in sent_at.items() if b in arrived]
    bench.stop_worker()
    if not latencies:
        print("reply latency: no reply arrived", flush=True)
        return
    print(
        f"reply latency through the priority lane while {drained:,} announcement messages "
        f"drained: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms "
        f"({len(latencies)} of {len(sent_at)} replies; {queued:,} queued)",
        flush=True,
    )
    p99 = percentile(latencies, 0.99) * 1000
    print(
        f"reply p99 during the state-wide drain: figure {p99:.0f} ms, floor 300 ms (target), "
        f"ratio {p99 / 300:.2f} (target ≤ 1)",
        flush=True,
    )


# --- entry ----------------------------------------------------------------------------------


async def _member_count(url: str) -> int:
    try:
        conn = await asyncpg.connect(sync_url(url))
    except (asyncpg.InvalidCatalogNameError, OSError):
        return 0
    try:
        return int(await conn.fetchval("SELECT count(*) FROM members"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def _run(url: str) -> None:
    bench = Bench(url)
    await bench.start()
    try:
        await bench.clean()
        wanted = os.environ.get("VCK_BENCH_FANOUT_PHASES", ",".join(PHASES)).split(",")
        if unknown := set(wanted) - set(PHASES):
            raise SystemExit(f"unknown fan-out phase(s) {sorted(unknown)}; choose from {PHASES}")
        if "times" in wanted:
            await fanout_times(bench, int(_env("VCK_BENCH_FANOUT_REPEAT", 3)))
        if "throughput" in wanted:
            await throughput(
                bench,
                _env("VCK_BENCH_FANOUT_DRAIN_SECONDS", 40),
                _env("VCK_BENCH_FANOUT_FLOOR_SECONDS", 8),
            )
        if "pacing" in wanted:
            await pacing(bench, _env("VCK_BENCH_FANOUT_PACING_SECONDS", 12))
        if "replies" in wanted:
            await reply_latency(bench, _env("VCK_BENCH_FANOUT_REPLY_SECONDS", 60))
    finally:
        await bench.close()


def main() -> None:
    url = database_url(os.environ.get("VCK_BENCH_DB", "vck_bench"))
    if asyncio.run(_member_count(url)) < 900_000:
        from benchmarks import synthetic

        synthetic.main()
    upgrade(url)
    asyncio.run(_run(url))


if __name__ == "__main__":
    main()
