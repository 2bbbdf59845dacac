"""The job queue as the rest of the project sees it: :class:`Jobs`, three things to
ask of the notifier after a commit, filled at bootstrap (``bot.bootstrap``, the CLI,
the worker) and reached by flows as ``ctx.jobs``.

Why this module writes arq's Redis structures itself instead of importing arq: the web
process enqueues (a reply a provider refused for now, an announcement's publish, a
batch a status callback re-queued) but never runs a job, and importing arq for three
Redis writes is what loaded the worker's machinery into ``import bot``. What
``ArqRedis.enqueue_job`` writes is small and stable: the job, ``pickle.dumps({"t":
try, "f": function, "a": args, "k": kwargs, "et": enqueued ms})``, under
``arq:job:<id>`` with an expiry, and the id in the queue's sorted set scored by the
millisecond it may run. :class:`RedisQueue` writes exactly that in one Lua script
(atomic, where arq uses WATCH/MULTI), refusing an id whose job or result still exists.
tests/test_jobs.py checks the bytes against arq's own ``serialize_job`` and these key
prefixes against ``arq.constants``, so an arq upgrade that changes the format fails a
test, not the queue. The worker uses the same class: there is one way to enqueue.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from core.channels.base import Channel, Reply

BULK_QUEUE = "vck:queue:bulk"
PRIORITY_QUEUE = "vck:queue:priority"
JOB_EXPIRES_MS = 3 * 86_400_000

PUBLISH = "publish_announcement"
SEND_BATCH = "send_batch"
SEND_REPLY = "send_reply"

JOB_KEY_PREFIX = "arq:job:"
IN_PROGRESS_KEY_PREFIX = "arq:in-progress:"
RESULT_KEY_PREFIX = "arq:result:"


def batch_job_id(announcement_id: uuid.UUID | str, batch: int) -> str:
    return f"send:{announcement_id}:{batch}"


def publish_job_id(announcement_id: uuid.UUID | str) -> str:
    return f"publish:{announcement_id}"


def reply_job_id(key: str) -> str:
    return f"reply:{key}"


class JobQueue(Protocol):
    """Enqueue jobs by name (what job bodies and :class:`QueuedJobs` need)."""

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_until: datetime | None = None,
        priority: bool = False,
    ) -> bool:
        """False when a job with ``job_id`` is queued or its result still kept."""
        ...

    async def enqueue_many(self, function: str, jobs: list[tuple[str, tuple[Any, ...]]]) -> int:
        """Enqueue (job id, args) pairs on the bulk queue in one round trip; returns how
        many were new."""
        ...

    async def states(self, job_ids: list[str]) -> list[str]:
        """``absent``, ``queued`` or ``running`` for each job id."""
        ...


_ENQUEUE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def serialize_job(function: str, args: tuple[Any, ...], enqueued_ms: int) -> bytes:
    """A job as arq's worker reads it (``arq.jobs.serialize_job`` with its default
    pickle serializer, no keyword arguments, the first try)."""
    return pickle.dumps({"t": None, "f": function, "a": args, "k": {}, "et": enqueued_ms})


class RedisQueue:
    """:class:`JobQueue` on the Redis structures arq's worker serves."""

    def __init__(self, redis: Redis) -> None:
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
        job_id = job_id or uuid.uuid4().hex
        now_ms = _ms(datetime.now(UTC))
        score = _ms(defer_until) if defer_until is not None else now_ms
        queue = PRIORITY_QUEUE if priority else BULK_QUEUE
        new = await self._enqueue(
            keys=[JOB_KEY_PREFIX + job_id, RESULT_KEY_PREFIX + job_id, queue],
            args=[serialize_job(function, args, now_ms), JOB_EXPIRES_MS, score, job_id],
        )
        return bool(new)

    async def enqueue_many(self, function: str, jobs: list[tuple[str, tuple[Any, ...]]]) -> int:
        """Many jobs in pipelined round trips (a state-wide announcement has a couple of
        thousand batches)."""
        now_ms = _ms(datetime.now(UTC))
        new = 0
        for start in range(0, len(jobs), 1000):
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id, args in jobs[start : start + 1000]:
                    await self._enqueue(
                        keys=[JOB_KEY_PREFIX + job_id, RESULT_KEY_PREFIX + job_id, BULK_QUEUE],
                        args=[serialize_job(function, args, now_ms), JOB_EXPIRES_MS, now_ms,
                              job_id],
                        client=pipe,
                    )  # fmt: skip
                new += sum(int(x) for x in await pipe.execute())
        return new

    async def drop_replies_to(self, addresses: Collection[str]) -> int:
        """Remove queued replies to any of ``addresses`` (an erasure: no queued job may
        keep the number). A reply already being sent is left to finish."""
        dropped = 0
        pattern = JOB_KEY_PREFIX + reply_job_id("*")
        async for key in self.redis.scan_iter(match=pattern, count=500):
            raw = await self.redis.get(key)
            try:
                job = pickle.loads(raw) if raw is not None else None  # our own jobs
            except Exception:  # not a job we wrote: leave it alone
                continue
            args: Any = job.get("a", ()) if isinstance(job, dict) else ()
            if job and job.get("f") == SEND_REPLY and len(args) > 1 and args[1] in addresses:
                job_id = key.decode().removeprefix(JOB_KEY_PREFIX)
                await self.redis.delete(key)
                await self.redis.zrem(PRIORITY_QUEUE, job_id)
                dropped += 1
        return dropped

    async def states(self, job_ids: list[str]) -> list[str]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(JOB_KEY_PREFIX + job_id)
                pipe.exists(IN_PROGRESS_KEY_PREFIX + job_id)
            flags = await pipe.execute()
        out = []
        for i in range(0, len(flags), 2):
            exists, running = flags[i], flags[i + 1]
            out.append("running" if running else "queued" if exists else "absent")
        return out


class Jobs(Protocol):
    """What the bot, the CLI and the worker ask of the notifier, after their commit."""

    async def schedule_publish(
        self, announcement_id: Any, publish_at: datetime | None = None
    ) -> bool:
        """Publish at ``publish_at``. The worker's cron publishes due announcements
        anyway; this makes it on time."""
        ...

    async def enqueue_batch(self, announcement_id: Any, batch: int) -> bool:
        """Make sure a batch is being sent (after a status callback re-queued a row)."""
        ...

    async def enqueue_reply(
        self,
        channel: Channel | str,
        address: str,
        reply: Reply | str,
        *,
        sms_template: str | None = None,
        key: str | None = None,
    ) -> bool:
        """Send ``reply`` to one person through the priority lane. ``key`` makes it
        idempotent (one key is enqueued and sent once); ``sms_template`` names the DLT
        template (``settings.dlt_template_ids``) for SMS to Indian numbers."""
        ...


class QueuedJobs:
    """:class:`Jobs` as jobs on a :class:`JobQueue` (the notifier's job bodies run them)."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def schedule_publish(
        self, announcement_id: Any, publish_at: datetime | None = None
    ) -> bool:
        return await self.queue.enqueue(
            PUBLISH,
            str(announcement_id),
            job_id=publish_job_id(announcement_id),
            defer_until=publish_at,
        )

    async def enqueue_batch(self, announcement_id: Any, batch: int) -> bool:
        return await self.queue.enqueue(
            SEND_BATCH, str(announcement_id), batch, job_id=batch_job_id(announcement_id, batch)
        )

    async def enqueue_reply(
        self,
        channel: Channel | str,
        address: str,
        reply: Reply | str,
        *,
        sms_template: str | None = None,
        key: str | None = None,
    ) -> bool:
        if isinstance(reply, str):
            reply = Reply(reply)
        key = key or uuid.uuid4().hex
        return await self.queue.enqueue(
            SEND_REPLY,
            Channel(channel).value,
            address,
            reply.to_dict(),
            f"vck:reply:{key}",
            sms_template,
            job_id=reply_job_id(key),
            priority=True,
        )


def redis_jobs(redis: Redis) -> QueuedJobs:
    """:class:`Jobs` on the notifier's queues in ``redis``."""
    return QueuedJobs(RedisQueue(redis))
