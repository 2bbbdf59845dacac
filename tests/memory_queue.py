"""The job queue as a dict, for tests that run the notifier's job bodies in-process."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


class MemoryQueue:
    """The job queue as a list: what was enqueued, for tests that run job bodies."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, tuple[Any, ...]]] = {}

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_until: datetime | None = None,
        priority: bool = False,
    ) -> bool:
        job_id = job_id or uuid.uuid4().hex
        if job_id in self.jobs:
            return False
        self.jobs[job_id] = (function, args)
        return True

    async def enqueue_many(self, function: str, jobs_: list[tuple[str, tuple[Any, ...]]]) -> int:
        return sum([await self.enqueue(function, *args, job_id=i) for i, args in jobs_])

    async def states(self, job_ids: list[str]) -> list[str]:
        return ["absent"] * len(job_ids)
