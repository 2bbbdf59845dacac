"""Two workers, one budget (issue 10.6): two real ``vck worker`` processes — as on two
machines, sharing one Redis and one PostgreSQL — drain one announcement together. Both
send; every member gets exactly one message; and the provider, a fake that answers 429
to whatever goes over the configured rate, refuses nothing: the pacing is one token
bucket in Redis, not one per process. Each one-second window of arrivals holds at most
the rate and the provider's burst (what the bucket may hold at once, and 0.1 s of the
rate for network jitter)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import announcements
from core.config import Settings
from core.jobs import redis_jobs
from core.ratelimit import bucket_specs
from tests.factories import Tree
from tests.test_crash_safety import WORKER, wait_for, worker_env
from tests.test_shared_budget import MEMBERS_SQL, ProviderLimit
from tests.test_worker import Fakes, fakes, tree  # noqa: F401  (fixtures)

RATE = 40
MEMBERS = 160  # four seconds of the rate
HOSTS = ("worker-a.invalid", "worker-b.invalid")


class Workers:
    """``vck worker`` processes, each with its own log file."""

    def __init__(self) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="vck-two-workers-"))
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, env: dict[str, str], name: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as out:
            self.processes.append(
                subprocess.Popen(WORKER, env=env, cwd=os.getcwd(), stdout=out, stderr=out)
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers() -> Iterator[Workers]:
    started = Workers()
    yield started
    started.stop()


async def test_two_workers_drain_one_announcement_within_one_budget(
    settings: Settings,
    fakes: Fakes,  # noqa: F811
    session: AsyncSession,
    tree: Tree,  # noqa: F811
    redis: aioredis.Redis,
    workers: Workers,
) -> None:
    rated = settings.model_copy(update={"rate_whatsapp_per_sec": float(RATE)})
    spec = bucket_specs(rated)["whatsapp"]
    provider = ProviderLimit(RATE, spec.capacity + 0.1 * RATE)  # 0.1 s of jitter
    provider.install(fakes.twilio)
    await session.execute(text(MEMBERS_SQL), {"n": MEMBERS, "unit": tree.booth_a1.id})
    await session.commit()

    for name, host in zip(("a", "b"), HOSTS, strict=True):
        env = worker_env(settings, fakes) | {
            "VCK_RATE_WHATSAPP_PER_SEC": str(RATE),
            "VCK_FANOUT_BATCH_SIZE": "10",
            # A few batches at a time each, or the first worker up takes them all.
            "VCK_NOTIFIER_MAX_JOBS": "3",
            "VCK_LOG_LEVEL": "INFO",
            # Which worker sent a message: its status callback names it.
            "VCK_PUBLIC_BASE_URL": f"http://{host}",
        }
        workers.start(env, name)
    await wait_for(
        lambda: all("lanes bulk" in workers.log(n) for n in ("a", "b")), 90, "both workers up"
    )
    # Written once both are up (a worker's cron would publish it at once otherwise).
    created = await announcements.create(
        session, official_member_id=None, unit_code=tree.booth_a1.code, title="Rally",
        content="Rally on Sunday", title_ta="பேரணி", content_ta="ஞாயிறு பேரணி",
        now=datetime.now(UTC), settings=settings,
    )  # fmt: skip
    assert isinstance(created, announcements.Created)
    await session.commit()
    await redis_jobs(redis).schedule_publish(created.announcement_id)

    await wait_for(lambda: len(delivered(fakes)) >= MEMBERS, 60, "every member's message")
    await asyncio.sleep(0.5)  # anything sent twice would arrive now
    workers.stop()

    got = delivered(fakes)
    assert len(got) == MEMBERS and set(got.values()) == {1}, "not exactly once"
    senders = Counter(urlsplit(m["StatusCallback"]).hostname for m in fakes.twilio.sent)
    assert set(senders) == set(HOSTS), f"only {dict(senders)} sent"
    assert provider.refused == 0, f"{provider.refused} sends over the provider's rate"
    start = provider.arrivals[0]
    per_second = Counter(int(t - start) for t in provider.arrivals)
    # The provider's allowance, counted in whole seconds (the fake's clock: arrivals, so
    # network jitter is in it, as the provider's burst allows).
    assert max(per_second.values()) <= RATE + provider.burst, dict(sorted(per_second.items()))


def delivered(fakes: Fakes) -> Counter[str]:  # noqa: F811  (not the fixture)
    return Counter(
        m["To"].removeprefix("whatsapp:") for m in fakes.twilio.sent if "+91976" in m["To"]
    )
