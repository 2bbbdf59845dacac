"""core.jobs: what it writes is what arq's worker reads, and the web process enqueues
without loading arq or the notifier."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from arq import constants
from arq.jobs import deserialize_job
from arq.jobs import serialize_job as arq_serialize_job

from core import jobs


def test_the_key_layout_is_arqs() -> None:
    assert jobs.JOB_KEY_PREFIX == constants.job_key_prefix
    assert jobs.RESULT_KEY_PREFIX == constants.result_key_prefix
    assert jobs.IN_PROGRESS_KEY_PREFIX == constants.in_progress_key_prefix


def test_a_job_is_serialised_as_arq_serialises_it() -> None:
    args = ("a1b2", 3)
    assert jobs.serialize_job("send_batch", args, 1_700_000_000_000) == arq_serialize_job(
        "send_batch", args, {}, None, 1_700_000_000_000
    )


async def test_a_deferred_publish_is_queued_for_its_time_once(redis: aioredis.Redis) -> None:
    queue = jobs.redis_jobs(redis)
    at = datetime.now(UTC) + timedelta(hours=2)
    assert await queue.schedule_publish("a1", at)
    assert not await queue.schedule_publish("a1", at)
    score = await redis.zscore(jobs.BULK_QUEUE, jobs.publish_job_id("a1"))
    assert score == int(at.timestamp() * 1000)
    job = deserialize_job(await redis.get(jobs.JOB_KEY_PREFIX + jobs.publish_job_id("a1")))
    assert (job.function, job.args) == (jobs.PUBLISH, ("a1",))
    assert await jobs.RedisQueue(redis).states(["publish:a1", "publish:a2"]) == [
        "queued",
        "absent",
    ]


async def test_replies_go_to_the_priority_queue_by_their_outbox_row(
    redis: aioredis.Redis,
) -> None:
    queue = jobs.redis_jobs(redis)
    assert await queue.enqueue_reply(17)
    assert not await queue.enqueue_reply(17)
    assert await redis.zrange(jobs.PRIORITY_QUEUE, 0, -1) == [b"reply:17"]
    assert await redis.zcard(jobs.BULK_QUEUE) == 0
    job = deserialize_job(await redis.get(jobs.JOB_KEY_PREFIX + "reply:17"))
    assert (job.function, job.args) == (jobs.SEND_REPLY, (17,))


def test_the_web_process_loads_neither_arq_nor_the_notifier() -> None:
    probe = "import json, sys, bot.app; print(json.dumps(sorted({*sys.modules})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert "bot" in loaded
    assert "arq" not in loaded and "notifier" not in loaded
