"""The arq side of the notifier — the only module that imports arq.

Two queues, each served by its own arq ``Worker`` (in one process by default, or in
separate processes: ``vck worker --lane bulk`` / ``--lane priority``):

- ``vck:queue:bulk``: publishing announcements and sending their batches (one job per
  batch, job id ``send:<announcement>:<batch>``), plus the crons;
- ``vck:queue:priority``: replies and notices to one person. It polls every 20 ms and
  its sends take the token buckets' reserved share, so they never wait behind a batch.
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
from uuid import uuid4

from arq import ArqRedis, Retry, create_pool
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.cron import cron
from arq.jobs import serialize_job
from arq.worker import Worker, func
from redis.asyncio import Redis

from core import aio
from core.channels.base import Channel, Reply
from core.config import Settings, load_settings
from notifier import jobs
from notifier.bootstrap import Deps, NotifierOptions, build

log = logging.getLogger(__name__)

BULK_QUEUE = "vck:queue:bulk"
PRIORITY_QUEUE = "vck:queue:priority"
LANES = ("bulk", "priority")
JOB_EXPIRES_MS = 3 * 86_400_000

_ENQUEUE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


class ArqQueue:
    """:class:`notifier.bootstrap.JobQueue` on arq."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis
        self._enqueue = redis.register_script(_ENQUEUE)

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_until: datetime | None = None,
        priority: bool = False,
    ) -> bool:
        job = await self.redis.enqueue_job(
            function,
            *args,
            _job_id=job_id,
            _defer_until=defer_until,
            _queue_name=PRIORITY_QUEUE if priority else BULK_QUEUE,
            _expires=JOB_EXPIRES_MS / 1000,
        )
        return job is not None

    async def enqueue_many(self, function: str, jobs_: list[tuple[str, tuple[Any, ...]]]) -> int:
        """arq's enqueue_job, for many jobs in one pipelined round trip (a state-wide
        announcement has a couple of thousand batches)."""
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        new = 0
        for start in range(0, len(jobs_), 1000):
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id, args in jobs_[start : start + 1000]:
                    await self._enqueue(
                        keys=[job_key_prefix + job_id, result_key_prefix + job_id, BULK_QUEUE],
                        args=[serialize_job(function, args, {}, None, now_ms), JOB_EXPIRES_MS,
                              now_ms, job_id],
                        client=pipe,
                    )  # fmt: skip
                new += sum(int(x) for x in await pipe.execute())
        return new

    async def states(self, job_ids: list[str]) -> list[str]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(job_key_prefix + job_id)
                pipe.exists(in_progress_key_prefix + job_id)
            flags = await pipe.execute()
        out = []
        for i in range(0, len(flags), 2):
            exists, running = flags[i], flags[i + 1]
            out.append("running" if running else "queued" if exists else "absent")
        return out


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


async def send_reply(
    ctx: dict[str, Any],
    channel: str,
    address: str,
    payload: dict[str, Any],
    key: str,
    sms_template: str | None = None,
) -> Any:
    result = await jobs.send_reply_job(
        _deps(ctx), channel, address, payload, key, sms_template, attempt=ctx.get("job_try", 1)
    )
    return _arq(result)


async def publish_due(ctx: dict[str, Any]) -> int:
    return await jobs.publish_due(_deps(ctx))


async def sweep(ctx: dict[str, Any]) -> int:
    return await jobs.sweep(_deps(ctx))


async def release_deferred(ctx: dict[str, Any]) -> int:
    return await jobs.release_deferred(_deps(ctx))


def _every(seconds: int) -> set[int]:
    return set(range(0, 60, max(1, min(60, seconds))))


def bulk_worker(deps: Deps, pool: ArqRedis, *, burst: bool = False) -> Worker:
    options = deps.options
    timeout = options.job_timeout_seconds
    return Worker(
        functions=[
            func(publish_announcement, name=jobs.PUBLISH, max_tries=5, keep_result=86_400),
            func(send_batch, name=jobs.SEND_BATCH, max_tries=1_000_000, keep_result=0),
        ],
        cron_jobs=[
            cron(publish_due, second=_every(10), run_at_startup=True, timeout=timeout),
            cron(sweep, second=_every(options.sweep_seconds), run_at_startup=True),
            cron(release_deferred, minute=set(range(0, 60, 5)), second=30, timeout=timeout),
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
        functions=[func(send_reply, name=jobs.SEND_REPLY, max_tries=options.max_attempts)],
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
    queue_pool = await create_pool(redis_settings, default_queue_name=BULK_QUEUE)
    deps = build(settings, ArqQueue(queue_pool), options=options)
    workers: list[Worker] = []
    if "bulk" in lanes:
        workers.append(bulk_worker(deps, await create_pool(redis_settings), burst=burst))
    if "priority" in lanes:
        workers.append(priority_worker(deps, await create_pool(redis_settings), burst=burst))
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        for worker in workers:
            worker.handle_sig(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop, sig)
    log.info("notifier worker up: lanes %s", ",".join(lanes))
    try:
        if ready is not None:
            await ready()
        await asyncio.gather(*(w.async_run() for w in workers), return_exceptions=True)
    finally:
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.close()
        await deps.close()
        await queue_pool.aclose()


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


# --- what the bot and the CLI call -------------------------------------------------------


def _arq_redis(redis: Redis) -> ArqRedis:
    if isinstance(redis, ArqRedis):
        return redis
    return ArqRedis(connection_pool=redis.connection_pool)


async def schedule_publish(
    redis: Redis, announcement_id: Any, publish_at: datetime | None = None
) -> bool:
    """Publish at ``publish_at`` (after the announcement's transaction committed). The
    worker's cron publishes due announcements anyway; this makes it on time."""
    return await ArqQueue(_arq_redis(redis)).enqueue(
        jobs.PUBLISH,
        str(announcement_id),
        job_id=jobs.publish_job_id(announcement_id),
        defer_until=publish_at,
    )


async def publish_result(redis: Redis, announcement_id: Any) -> Any:
    """Wait until the announcement has been fanned out (by its publish job or the cron)
    and return the summary: rows written, batches enqueued, seconds it took. Bound the
    wait with ``asyncio.timeout``."""
    while True:
        raw = await redis.get(jobs.published_key(announcement_id))
        if raw is not None:
            return json.loads(raw)
        await asyncio.sleep(0.05)


async def enqueue_batch(redis: Redis, announcement_id: Any, batch: int) -> bool:
    """Make sure a batch is being sent (after a status callback re-queued a row)."""
    return await ArqQueue(_arq_redis(redis)).enqueue(
        jobs.SEND_BATCH,
        str(announcement_id),
        batch,
        job_id=jobs.batch_job_id(announcement_id, batch),
    )


async def enqueue_reply(
    redis: Redis,
    channel: Channel | str,
    address: str,
    reply: Reply | str,
    *,
    sms_template: str | None = None,
    key: str | None = None,
) -> bool:
    """Send ``reply`` to one person through the priority lane. ``key`` makes it
    idempotent (the same key is enqueued and sent once); ``sms_template`` names the DLT
    template (``settings.dlt_template_ids``) for SMS to Indian numbers, e.g. ``otp_ta``."""
    if isinstance(reply, str):
        reply = Reply(reply)
    key = key or uuid4().hex
    return await ArqQueue(_arq_redis(redis)).enqueue(
        jobs.SEND_REPLY,
        Channel(channel).value,
        address,
        reply.to_dict(),
        f"vck:reply:{key}",
        sms_template,
        job_id=f"reply:{key}",
        priority=True,
    )


class QueuedOutbox:
    """The bot's ``Outbox`` (bot/outbox.py) through the priority lane: messages to people
    other than the one writing (OTP codes, officials told of a signup)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        await enqueue_reply(self.redis, channel, address, reply)

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        await enqueue_reply(self.redis, Channel.SMS, phone, text, sms_template=template)
