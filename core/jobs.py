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

Job arguments are ids only (an announcement's id and batch number, an outbox row's
id): arq keeps them in Redis and may log them, so no number, code or text goes there.
"""

from __future__ import annotations

import pickle
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

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


def reply_job_id(outbox_id: int) -> str:
    return f"reply:{outbox_id}"


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

    async def enqueue_reply(self, outbox_id: int) -> bool:
        """Send the reply kept in outbox row ``outbox_id`` (core.effects.record_reply)
        through the priority lane. The job carries the row's id only: the number and
        the text stay in PostgreSQL, never in Redis."""
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

    async def enqueue_reply(self, outbox_id: int) -> bool:
        return await self.queue.enqueue(
            SEND_REPLY, int(outbox_id), job_id=reply_job_id(outbox_id), priority=True
        )


def redis_jobs(redis: Redis) -> QueuedJobs:
    """:class:`Jobs` on the notifier's queues in ``redis``."""
    return QueuedJobs(RedisQueue(redis))
