"""The arq side of the notifier — the only module that imports arq.

Two queues, each served by its own arq ``Worker`` (in one process by default, or in
separate processes: ``vck worker --lane bulk`` / ``--lane priority``):

- ``vck:queue:bulk``: publishing announcements and sending their batches (one job per
  batch, job id ``send:<announcement>:<batch>``), plus the crons;
- ``vck:queue:priority``: replies and notices to one person. It polls every 20 ms and
  its sends take the token buckets' reserved share, so they never wait behind a batch.

Jobs are enqueued through core.jobs (which writes arq's structures without importing
arq, so the web process never loads it); this module only serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from arq import ArqRedis, Retry, create_pool
from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import Worker, func
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import aio
from core.config import Settings, load_settings
from core.jobs import BULK_QUEUE, PRIORITY_QUEUE, PUBLISH, SEND_BATCH, SEND_REPLY
from notifier import event_jobs, jobs
from notifier.bootstrap import Deps, NotifierOptions, build

log = logging.getLogger(__name__)

LANES = ("bulk", "priority")


def _arq(result: Any) -> Any:
    """A job body's :class:`jobs.Again` as arq's own deferred retry of the same job."""
    if isinstance(result, jobs.Again):
        delay = max(0.0, (result.at - datetime.now(UTC)).total_seconds())
        raise Retry(defer=delay)
    return result


def _deps(ctx: dict[str, Any]) -> Deps:
    deps: Deps = ctx["deps"]
    return deps


async def publish_announcement(ctx: dict[str, Any], announcement_id: str) -> Any:
    return await jobs.publish_announcement(_deps(ctx), announcement_id)


async def send_batch(ctx: dict[str, Any], announcement_id: str, batch: int) -> Any:
    return _arq(await jobs.send_batch(_deps(ctx), announcement_id, batch))


async def send_reply(ctx: dict[str, Any], outbox_id: Any, *before_10_3: Any) -> Any:
    if before_10_3:  # a job queued by a version that put the reply itself on the queue
        outbox_id = await jobs.adopt_legacy_reply(_deps(ctx), outbox_id, *before_10_3)
    return _arq(await jobs.send_reply_job(_deps(ctx), outbox_id))


async def publish_due(ctx: dict[str, Any]) -> int:
    return await jobs.publish_due(_deps(ctx))


async def sweep(ctx: dict[str, Any]) -> int:
    return await jobs.sweep(_deps(ctx))


async def release_deferred(ctx: dict[str, Any]) -> int:
    return await jobs.release_deferred(_deps(ctx))


async def deliver_effects(ctx: dict[str, Any]) -> int:
    return await jobs.deliver_effects(_deps(ctx))


async def advance_elections(ctx: dict[str, Any]) -> int:
    return await jobs.advance_elections(_deps(ctx))


async def purge_expired(ctx: dict[str, Any]) -> int:
    return await jobs.purge_expired(_deps(ctx))


async def event_chores(ctx: dict[str, Any]) -> int:
    return await event_jobs.event_chores(_deps(ctx))


async def sweep_grievances(ctx: dict[str, Any]) -> int:
    return await jobs.sweep_grievances(_deps(ctx))


async def reconcile_donations(ctx: dict[str, Any]) -> int:
    return await jobs.reconcile_donations(_deps(ctx))


def _every(seconds: int) -> set[int]:
    return set(range(0, 60, max(1, min(60, seconds))))


def bulk_worker(deps: Deps, pool: ArqRedis, *, burst: bool = False) -> Worker:
    options = deps.options
    timeout = options.job_timeout_seconds
    return Worker(
        functions=[
            func(publish_announcement, name=PUBLISH, max_tries=5, keep_result=86_400),
            func(send_batch, name=SEND_BATCH, max_tries=1_000_000, keep_result=0),
        ],
        cron_jobs=[
            cron(publish_due, second=_every(10), run_at_startup=True, timeout=timeout),
            cron(sweep, second=_every(options.sweep_seconds), run_at_startup=True),
            cron(release_deferred, minute=set(range(0, 60, 5)), second=30, timeout=timeout),
            cron(event_chores, second={15, 45}, run_at_startup=True, timeout=timeout),
            cron(reconcile_donations, minute=set(range(2, 60, 5)), second=0, timeout=timeout),
            cron(advance_elections, second=_every(10), run_at_startup=True, timeout=timeout),
            # 02:30 in India, when the fewest members write.
            cron(purge_expired, hour=21, minute=0, second=0, timeout=timeout),
            cron(sweep_grievances, second=15, run_at_startup=True, timeout=timeout),
        ],
        queue_name=BULK_QUEUE,
        redis_pool=pool,
        ctx={"deps": deps},
        max_jobs=options.max_jobs,
        job_timeout=timeout,
        keep_result=0,
        poll_delay=options.poll_delay_seconds,
        handle_signals=False,
        burst=burst,
    )


def priority_worker(deps: Deps, pool: ArqRedis, *, burst: bool = False) -> Worker:
    options = deps.options
    return Worker(
        # The outbox row counts the tries (core.effects.MAX_ATTEMPTS), not arq.
        functions=[func(send_reply, name=SEND_REPLY, max_tries=1_000)],
        cron_jobs=[cron(deliver_effects, second=_every(5), run_at_startup=True, timeout=120)],
        queue_name=PRIORITY_QUEUE,
        redis_pool=pool,
        ctx={"deps": deps},
        max_jobs=options.priority_max_jobs,
        job_timeout=120,
        keep_result=0,
        poll_delay=options.priority_poll_delay_seconds,
        handle_signals=False,
        burst=burst,
    )


async def serve(
    settings: Settings,
    *,
    lanes: tuple[str, ...] = LANES,
    options: NotifierOptions | None = None,
    burst: bool = False,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the workers of ``lanes`` until SIGTERM/SIGINT (or, with ``burst``, until
    their queues are empty)."""
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    deps = build(settings, options=options)
    workers: list[Worker] = []
    lanes_to_serve: list[Callable[[], Worker]] = []
    if "bulk" in lanes:
        bulk_pool = await create_pool(redis_settings)
        lanes_to_serve.append(lambda: bulk_worker(deps, bulk_pool, burst=burst))
    if "priority" in lanes:
        priority_pool = await create_pool(redis_settings)
        lanes_to_serve.append(lambda: priority_worker(deps, priority_pool, burst=burst))
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def stop(signum: signal.Signals) -> None:
        stopping.set()
        for worker in workers:
            worker.handle_sig(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop, sig)
    log.info("notifier worker up: lanes %s", ",".join(lanes))
    try:
        if ready is not None:
            await ready()
        await asyncio.gather(
            *(_serve_lane(make, workers, stopping) for make in lanes_to_serve),
            return_exceptions=True,
        )
    finally:
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.close()
        await deps.close()


REDIS_RETRY_SECONDS = 1.0


async def _serve_lane(
    make: Callable[[], Worker], workers: list[Worker], stopping: asyncio.Event
) -> None:
    """Serve one lane until stopped, through a Redis restart or failover. arq's poll
    loop ends on the first failed Redis call and its bookkeeping (jobs counted as
    running, semaphore slots) may be left off, so a fresh arq worker takes over the
    lane; the old one's running jobs finish on their own. Its crons run at start: the
    sweep re-enqueues at once the batches whose jobs and leases the restart lost."""
    while not stopping.is_set():
        worker = make()
        workers.append(worker)
        try:
            await worker.async_run()
            return
        except (RedisError, OSError) as exc:
            if stopping.is_set():
                return
            log.warning("lost Redis (%r): a new poller in %.0f s", exc, REDIS_RETRY_SECONDS)
            await asyncio.sleep(REDIS_RETRY_SECONDS)


def run(lanes: tuple[str, ...] = LANES, *, burst: bool = False) -> None:
    """Serve ``lanes``. Both lanes run in separate processes (this one and a child), so
    a bulk drain that keeps one CPU busy never delays a reply's event loop; the child
    dies with its parent."""
    child = None
    if len(lanes) > 1 and not burst:
        child = multiprocessing.get_context("fork").Process(
            target=_child_lane, args=(lanes[1:],), name="vck-worker-priority", daemon=True
        )
        child.start()
        lanes = lanes[:1]
    try:
        aio.run(serve(load_settings(), lanes=lanes, burst=burst))
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join(10)


def _child_lane(lanes: tuple[str, ...]) -> None:
    _die_with_parent()
    aio.run(serve(load_settings(), lanes=lanes))


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to this process when its parent dies (even by
    SIGKILL), so a killed worker leaves no lane behind."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent is already gone
            os.kill(os.getpid(), signal.SIGTERM)


# --- benchmarks -------------------------------------------------------------------------


async def publish_result(redis: Redis, announcement_id: Any) -> Any:
    """Wait until the announcement has been fanned out (by its publish job or the cron)
    and return the summary: rows written, batches enqueued, seconds it took. Bound the
    wait with ``asyncio.timeout``."""
    while True:
        raw = await redis.get(jobs.published_key(announcement_id))
        if raw is not None:
            return json.loads(raw)
        await asyncio.sleep(0.05)
