"""Crash and outage safety with the real worker process (``vck worker``), against fake
providers that — like Twilio, Telegram and the DLT providers — do NOT honour
idempotency keys: a repeated request is a second message.

Each test stops the worker's world in the middle of a fan-out: SIGKILL, a Redis
restart that loses every key, PostgreSQL going away (through a proxy the test cuts),
a job that exceeds its timeout. Then, once every row is final:

- **no gap**: every recipient got the message, or their row is ``uncertain`` (the
  provider could not say; the report counts it);
- **duplicates only among sends in flight, each counted**: a recipient who got it twice
  has a row settled as in doubt (``uncertain``, or ``resent`` after Twilio had no
  record), and the report's ``in_doubt`` counts every one.

Marked ``crash``: part of the normal suite (``pytest -m crash`` runs only these).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import tests.test_worker as worker_tests
from core import announcements, deliveries
from core.config import Settings
from core.jobs import redis_jobs
from tests.factories import make_tree
from tests.test_worker import Fakes

pytestmark = pytest.mark.crash

fakes = worker_tests.fakes  # the fake providers' fixture (not idempotent)

WORKER = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(['worker']))"]

RECIPIENTS_SQL = """
WITH m AS (
  INSERT INTO members (first_name, phone, status, language)
  SELECT 'Crash', :prefix || lpad(i::text, 6, '0'), 'active',
         CASE WHEN i % 3 = 0 THEN 'en' ELSE 'ta' END
  FROM generate_series(1, :n) AS i
  RETURNING id, phone
), units AS (
  INSERT INTO member_units (member_id, unit_id, is_primary) SELECT id, :unit, true FROM m
)
INSERT INTO channel_addresses (channel, address, phone, member_id)
SELECT CASE WHEN right(phone, 1) IN ('0', '5') THEN 'whatsapp'
            WHEN right(phone, 1) = '1' THEN 'telegram' ELSE 'sms' END,
       CASE right(phone, 1) WHEN '1' THEN '8' || right(phone, 9)
            WHEN '2' THEN '+4477' || right(phone, 8) ELSE phone END, phone, id
FROM m
RETURNING address
"""
"""Recipients: 20% WhatsApp and 10% SMS to a foreign number (both Twilio, which can be
asked), 10% Telegram (cannot be asked), 60% SMS through the DLT provider."""


async def recipients(session: AsyncSession, unit_id: uuid.UUID, n: int) -> list[str]:
    rows = await session.execute(
        text(RECIPIENTS_SQL), {"prefix": "+91977", "n": n, "unit": unit_id}
    )
    return [r[0] for r in rows]


def worker_env(settings: Settings, fakes: Fakes, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCK_")}
    env.update(
        VCK_ENVIRONMENT="test",
        VCK_DATABASE_URL=settings.database_url,
        VCK_REDIS_URL=settings.redis_url,
        VCK_TWILIO_API_BASE_URL=fakes.twilio.base_url,
        VCK_TELEGRAM_API_BASE_URL=fakes.telegram.base_url,
        VCK_DLT_API_BASE_URL=fakes.dlt.base_url,
        VCK_FANOUT_BATCH_SIZE="40",
        VCK_RATE_WHATSAPP_PER_SEC="150",
        VCK_RATE_TELEGRAM_PER_SEC="150",
        VCK_RATE_SMS_DLT_PER_SEC="150",
        VCK_RATE_SMS_TWILIO_PER_SEC="150",
        VCK_PROVIDER_TIMEOUT_SECONDS="2",
        VCK_NOTIFIER_LEASE_SECONDS="2",
        VCK_NOTIFIER_SWEEP_SECONDS="1",
        VCK_NOTIFIER_BACKOFF_BASE_SECONDS="0.2",
        VCK_NOTIFIER_MAX_ATTEMPTS="30",
        VCK_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()
        """The worker's stderr (its log), also echoed by :meth:`output`."""

    def start(self) -> None:
        self.process = subprocess.Popen(WORKER, env=self.env, cwd=os.getcwd(), stderr=self.log)

    def output(self) -> str:
        self.log.seek(0)
        text_ = self.log.read().decode(errors="replace")
        sys.stderr.write(text_[-5000:])
        return text_

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.kill()
        process.log.close()


def worker(workers: list[WorkerProcess], env: dict[str, str]) -> WorkerProcess:
    process = WorkerProcess(env)
    workers.append(process)
    return process


async def wait_for(condition: Callable[[], object], within: float, what: str) -> None:
    started = time.monotonic()
    deadline = started + within
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            print(f"{what}: {time.monotonic() - started:.1f} s")
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def start_announcement(
    session: AsyncSession, settings: Settings, n: int
) -> tuple[uuid.UUID, list[str]]:
    tree = await make_tree(session)
    expected = await recipients(session, tree.booth_a1.id, n)
    created = await announcements.create(
        session, official_member_id=None, unit_code=tree.booth_a1.code, title="Rally",
        content="Rally on Sunday", title_ta="பேரணி", content_ta="ஞாயிறு பேரணி",
        sms_text="Rally on Sunday at 10", now=datetime.now(UTC), settings=settings,
    )  # fmt: skip
    assert isinstance(created, announcements.Created)
    await session.commit()
    return created.announcement_id, expected


async def in_state(session: AsyncSession, announcement_id: uuid.UUID, *states: str) -> int:
    value = await session.scalar(
        text(
            "SELECT count(*) FROM announcement_deliveries WHERE announcement_id = :a"
            " AND status::text = ANY(:s)"
        ),
        {"a": announcement_id, "s": list(states)},
    )
    await session.commit()
    return int(value or 0)


async def done(session: AsyncSession, announcement_id: uuid.UUID) -> bool:
    status = await session.scalar(
        text("SELECT status FROM announcements WHERE id = :a"), {"a": announcement_id}
    )
    await session.commit()
    return (
        status == "published" and await in_state(session, announcement_id, "queued", "sending") == 0
    )


async def assert_no_gap_and_every_duplicate_counted(
    session: AsyncSession, settings: Settings, fakes: Fakes, announcement_id: uuid.UUID,
    expected: list[str],
) -> dict[str, int]:  # fmt: skip
    rows = (
        await session.execute(
            text("SELECT address, status::text, reconciliation FROM announcement_deliveries"
                 " WHERE announcement_id = :a"),
            {"a": announcement_id},
        )
    ).all()  # fmt: skip
    got = Counter(fakes.addresses())
    assert set(got) <= set(expected), "a message to someone not in the announcement"
    assert {r.address for r in rows} == set(expected)
    in_doubt = {r.address for r in rows if r.status == "uncertain" or r.reconciliation == "resent"}
    final = {"sent", "delivered", "uncertain"}
    assert {r.status for r in rows} <= final, Counter(r.status for r in rows)
    gaps = [r.address for r in rows if got[r.address] == 0 and r.status != "uncertain"]
    assert not gaps, f"never sent, and not counted as uncertain: {gaps[:5]} ({len(gaps)})"
    duplicates = {a: n for a, n in got.items() if n > 1}
    uncounted = set(duplicates) - in_doubt
    assert not uncounted, f"sent twice, not counted: {sorted(uncounted)[:5]}"
    assert max(duplicates.values(), default=1) <= 2
    report = await deliveries.report(session, announcement_id, settings)
    assert report is not None and report.in_doubt == len(in_doubt)
    figures = {
        "recipients": len(expected),
        "duplicates": len(duplicates),
        "uncertain": report.uncertain,
        "uncertain_received": sum(
            1 for r in rows if r.status == "uncertain" and got[r.address] > 0
        ),
        "resent": report.resent,
        "found": report.settled,
    }
    print(figures)
    return figures


def slow_fakes(fakes: Fakes, seconds: float) -> None:
    for fake in (fakes.twilio, fakes.telegram, fakes.dlt):
        fake.latency = seconds  # messages in flight when the blow comes


async def test_provider_outage_then_everything_delivered_exactly_once(
    session: AsyncSession, settings: Settings, fakes: Fakes, workers: list[WorkerProcess],
    redis: aioredis.Redis,
) -> None:  # fmt: skip
    """Refusals are answers: with no crash, nothing is in doubt and nothing goes twice."""
    announcement_id, expected = await start_announcement(session, settings, 300)
    fakes.dlt.fail(seconds=2.0, status=500)
    fakes.twilio.fail(times=30, status=429, retry_after=1)
    fakes.telegram.fail(times=10, status=500, delay=0.2)
    process = worker(workers, worker_env(settings, fakes))
    process.start()
    await redis_jobs(redis).schedule_publish(announcement_id)
    await wait_for(lambda: done(session, announcement_id), 60, "every row sent")
    process.kill(signal.SIGTERM)
    assert sorted(fakes.addresses()) == sorted(expected)
    assert await in_state(session, announcement_id, "sent", "delivered") == len(expected)


# --- SIGKILL ------------------------------------------------------------------------------


async def test_sigkill_mid_drain_no_gap_and_every_duplicate_counted(
    session: AsyncSession, settings: Settings, fakes: Fakes, workers: list[WorkerProcess],
    redis: aioredis.Redis,
) -> None:  # fmt: skip
    slow_fakes(fakes, 0.05)
    announcement_id, expected = await start_announcement(session, settings, 300)
    first = worker(workers, worker_env(settings, fakes))
    first.start()
    await redis_jobs(redis).schedule_publish(announcement_id)

    await wait_for(lambda: fakes.total() >= 80, 60, "the first sends")
    first.kill(signal.SIGKILL)
    assert fakes.total() < len(expected), "the fan-out finished before the kill"
    in_flight = await in_state(session, announcement_id, "sending")

    second = worker(workers, worker_env(settings, fakes))
    second.start()
    await wait_for(lambda: done(session, announcement_id), 60, "every row final")
    second.kill(signal.SIGTERM)

    figures = await assert_no_gap_and_every_duplicate_counted(
        session, settings, fakes, announcement_id, expected
    )
    assert figures["uncertain"] + figures["resent"] + figures["found"] <= in_flight


# --- Redis restarted ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, with no persistence: a restart loses every
    key (queued jobs, leases, token buckets) — worse than the compose Redis, which
    keeps its data (AOF)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="vck-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def spawn(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    async def start(self) -> None:
        self.spawn()
        client = aioredis.from_url(self.url)
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise AssertionError("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    async def restart(self, down_seconds: float) -> None:
        self.stop()
        await asyncio.sleep(down_seconds)
        await self.start()


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/services.sh installs it)")
    server = PrivateRedis(binary)
    await server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


async def test_redis_restarted_mid_drain_no_gap_and_every_duplicate_counted(
    session: AsyncSession, settings: Settings, fakes: Fakes, workers: list[WorkerProcess],
    private_redis: PrivateRedis,
) -> None:  # fmt: skip
    slow_fakes(fakes, 0.05)
    settings = settings.model_copy(update={"redis_url": private_redis.url})
    announcement_id, expected = await start_announcement(session, settings, 300)
    process = worker(workers, worker_env(settings, fakes))
    process.start()
    client = aioredis.from_url(private_redis.url)
    try:
        await redis_jobs(client).schedule_publish(announcement_id)
        await wait_for(lambda: fakes.total() >= 80, 60, "the first sends")
    finally:
        await client.aclose()
    await private_redis.restart(down_seconds=1.0)  # queued jobs and leases are gone
    print("redis back at", datetime.now(UTC))
    assert fakes.total() < len(expected), "the fan-out finished before the restart"

    await wait_for(lambda: done(session, announcement_id), 60, "every row final")
    assert process.alive(), "the worker did not survive the Redis restart"
    process.kill(signal.SIGTERM)
    await assert_no_gap_and_every_duplicate_counted(
        session, settings, fakes, announcement_id, expected
    )


# --- PostgreSQL restarted -----------------------------------------------------------------


class CuttableProxy:
    """A TCP proxy between the worker and PostgreSQL. :meth:`cut` drops every
    connection and refuses new ones — what the worker sees of a PostgreSQL restart or
    failover — and :meth:`restore` accepts again. (A real restart of the shared
    PostgreSQL would hit everyone else's tests.)"""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()
        self.server = None

    async def stop(self) -> None:
        if self.server is not None:
            await self.cut()


@pytest.mark.parametrize("record_retry", ["30", "0.2"], ids=["records-wait", "left-in-doubt"])
async def test_postgres_restarted_mid_batch_no_gap_and_every_duplicate_counted(
    session: AsyncSession, settings: Settings, fakes: Fakes, workers: list[WorkerProcess],
    redis: aioredis.Redis, record_retry: str,
) -> None:  # fmt: skip
    """PostgreSQL goes away for 2 s mid-batch. Records are retried (30 s by default),
    so nothing is left in doubt; with a 0.2 s retry the groups in flight are left in
    doubt and settled once it is back."""
    slow_fakes(fakes, 0.1)
    url = make_url(settings.database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        through = url.set(host="127.0.0.1", port=proxy.port)
        env = worker_env(
            settings, fakes, VCK_DATABASE_URL=through.render_as_string(False),
            VCK_NOTIFIER_RECORD_RETRY_SECONDS=record_retry,
        )  # fmt: skip
        announcement_id, expected = await start_announcement(session, settings, 300)
        process = worker(workers, env)
        process.start()
        await redis_jobs(redis).schedule_publish(announcement_id)
        await wait_for(lambda: fakes.total() >= 80, 60, "the first sends")
        await proxy.cut()  # every claim and record in flight fails
        cut_at = fakes.total()
        await asyncio.sleep(2.0)
        assert fakes.total() < len(expected), "the fan-out finished before the cut"
        await proxy.start()
        await wait_for(lambda: done(session, announcement_id), 60, "every row final")
        assert process.alive(), "the worker did not survive PostgreSQL going away"
        process.kill(signal.SIGTERM)
    finally:
        await proxy.stop()
    figures = await assert_no_gap_and_every_duplicate_counted(
        session, settings, fakes, announcement_id, expected
    )
    assert cut_at < figures["recipients"]
    in_doubt = figures["uncertain"] + figures["resent"] + figures["found"]
    if record_retry == "30":
        assert in_doubt == 0, "a record gave up although PostgreSQL came back"


# --- a job that exceeds its timeout -------------------------------------------------------


async def test_a_job_past_its_timeout_no_gap_and_every_duplicate_counted(
    session: AsyncSession, settings: Settings, fakes: Fakes, workers: list[WorkerProcess],
    redis: aioredis.Redis,
) -> None:  # fmt: skip
    """arq cancels a batch job at ``job_timeout`` in the middle of its sends: 80 rows a
    batch at 40 messages/s take 2 s, the timeout is 1 s. The job stops claiming, lets
    the sends already handed to a provider finish and records them."""
    slow_fakes(fakes, 0.1)
    env = worker_env(
        settings, fakes, VCK_FANOUT_BATCH_SIZE="80", VCK_NOTIFIER_JOB_TIMEOUT_SECONDS="1",
        VCK_NOTIFIER_BATCH_RUN_SECONDS="60", VCK_RATE_WHATSAPP_PER_SEC="40",
        VCK_RATE_TELEGRAM_PER_SEC="40", VCK_RATE_SMS_DLT_PER_SEC="40",
        VCK_RATE_SMS_TWILIO_PER_SEC="40",
    )  # fmt: skip
    announcement_id, expected = await start_announcement(session, settings, 160)
    process = worker(workers, env)
    process.start()
    await redis_jobs(redis).schedule_publish(announcement_id)
    await wait_for(lambda: done(session, announcement_id), 60, "every row final")
    process.kill(signal.SIGTERM)
    assert "send_batch failed, TimeoutError" in process.output(), "no job timed out"
    await assert_no_gap_and_every_duplicate_counted(
        session, settings, fakes, announcement_id, expected
    )
