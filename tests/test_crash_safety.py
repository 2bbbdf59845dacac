"""Crash and outage safety with the real worker process (``vck worker``): SIGKILL it in
the middle of a fan-out and start it again, or let the providers fail for a while —
every recipient gets exactly one message (the fake providers' records show no
duplicate and no gap)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import tests.test_worker as worker_tests
from core import announcements
from core.config import Settings
from core.jobs import redis_jobs
from tests.factories import make_tree
from tests.test_worker import Fakes

fakes = worker_tests.fakes  # the fake providers' fixture

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
SELECT CASE right(phone, 1) WHEN '0' THEN 'whatsapp' WHEN '1' THEN 'telegram' ELSE 'sms' END,
       CASE right(phone, 1) WHEN '1' THEN '8' || right(phone, 9) ELSE phone END, phone, id
FROM m
RETURNING address
"""


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
        VCK_NOTIFIER_LEASE_SECONDS="2",
        VCK_NOTIFIER_SWEEP_SECONDS="1",
        VCK_NOTIFIER_BACKOFF_BASE_SECONDS="0.2",
        VCK_NOTIFIER_MAX_ATTEMPTS="12",
        VCK_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(WORKER, env=self.env, cwd=os.getcwd())

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
async def worker(settings: Settings, fakes: Fakes) -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(worker_env(settings, fakes))
    yield process
    process.kill()


async def wait_for(condition: Callable[[], object], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def unfinished(session: AsyncSession, announcement_id: uuid.UUID) -> int:
    value = await session.scalar(
        text(
            "SELECT count(*) FROM announcement_deliveries WHERE announcement_id = :a"
            " AND status IN ('queued', 'sending')"
        ),
        {"a": announcement_id},
    )
    await session.commit()
    return int(value or 0)


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


def assert_exactly_once(fakes: Fakes, expected: list[str]) -> None:
    got = Counter(fakes.addresses())
    duplicates = {a: n for a, n in got.items() if n > 1}
    assert not duplicates, f"sent twice: {list(duplicates)[:5]}"
    missing = set(expected) - set(got)
    assert not missing, f"never sent: {sorted(missing)[:5]} ({len(missing)} in all)"
    assert set(got) == set(expected)


async def test_sigkill_mid_fanout_then_restart_sends_each_exactly_once(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    worker: WorkerProcess,
    redis: aioredis.Redis,
) -> None:
    for fake in (fakes.twilio, fakes.telegram, fakes.dlt):
        fake.latency = 0.03  # messages in flight when the kill comes
    announcement_id, expected = await start_announcement(session, settings, 600)
    worker.start()
    await redis_jobs(redis).schedule_publish(announcement_id)

    await wait_for(lambda: fakes.total() >= 150, 60, "the first sends")
    worker.kill(signal.SIGKILL)
    sent_before = fakes.total()
    assert sent_before < len(expected), "the fan-out finished before the kill"
    in_flight = await session.scalar(
        text("SELECT count(*) FROM announcement_deliveries WHERE announcement_id = :a"
             " AND status = 'sending'"),
        {"a": announcement_id},
    )  # fmt: skip
    await session.commit()

    worker.start()
    await wait_for(lambda: _done(session, announcement_id), 90, "every row sent after the restart")
    worker.kill(signal.SIGTERM)

    assert_exactly_once(fakes, expected)
    replayed = fakes.twilio.replayed + fakes.telegram.replayed + fakes.dlt.replayed
    print(f"killed after {sent_before} sends with {in_flight} in flight; {replayed} replayed")


async def _done(session: AsyncSession, announcement_id: uuid.UUID) -> bool:
    status = await session.scalar(
        text("SELECT status FROM announcements WHERE id = :a"), {"a": announcement_id}
    )
    return status == "published" and await unfinished(session, announcement_id) == 0


async def test_provider_outage_then_everything_delivered_exactly_once(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    worker: WorkerProcess,
    redis: aioredis.Redis,
) -> None:
    announcement_id, expected = await start_announcement(session, settings, 300)
    fakes.dlt.fail(seconds=2.0, status=500)
    fakes.twilio.fail(times=30, status=429, retry_after=1)
    fakes.telegram.fail(times=10, status=500, delay=0.2)
    worker.start()
    await redis_jobs(redis).schedule_publish(announcement_id)
    await wait_for(lambda: _done(session, announcement_id), 90, "every row sent")
    worker.kill(signal.SIGTERM)

    assert_exactly_once(fakes, expected)
    statuses = await session.execute(
        text("SELECT status::text, count(*) FROM announcement_deliveries"
             " WHERE announcement_id = :a GROUP BY 1"),
        {"a": announcement_id},
    )  # fmt: skip
    assert {s for s, _ in statuses} <= {"sent", "delivered"}
