"""Where a benchmark's CPU goes: per process, per party to a message, and the whole
machine (which other work may share); and the percentiles its latencies report."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import pids_matching, process_cpu_seconds


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by each party to a message: the
    named processes (``parties``: name → a function giving their CPU seconds so far),
    the load generator (this process), the PostgreSQL backends serving ``database``,
    the Redis server on ``redis_port`` — and the whole machine.

    PostgreSQL backends come and go (the bot's pool closes its overflow connections),
    so they are sampled every ``SAMPLE_SECONDS``; a backend's last moments before it
    exits are missed, which makes that figure a slight underestimate."""

    SAMPLE_SECONDS = 0.25

    def __init__(
        self, parties: dict[str, Callable[[], float]], *, database: str, redis_port: str
    ) -> None:
        self.parties, self.database, self.redis_port = parties, database, redis_port
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._start: dict[str, float] = {}

    def _sample_postgres(self) -> None:
        for pid in pids_matching("postgres:", f" {self.database} "):
            cpu = process_cpu_seconds(pid)
            if cpu:
                self._first.setdefault(pid, cpu if self._task is None else 0.0)
                self._last[pid] = max(cpu, self._last.get(pid, 0.0))

    async def _sampler(self) -> None:
        while True:
            await asyncio.sleep(self.SAMPLE_SECONDS)
            self._sample_postgres()

    def _totals(self) -> dict[str, float]:
        redis = pids_matching("redis-server", f":{self.redis_port}")
        busy, total = machine_busy_seconds()
        return {
            **{name: cpu() for name, cpu in self.parties.items()},
            "generator": time.process_time(),
            "redis": sum(process_cpu_seconds(pid) for pid in redis),
            "machine": busy,
            "machine_total": total,
        }

    def start(self) -> None:
        """Start a measurement (a meter measures one phase at a time, afresh)."""
        self._first.clear()
        self._last.clear()
        self._task = None
        self._sample_postgres()
        self._task = asyncio.create_task(self._sampler())
        self._start = self._totals()

    async def stop(self) -> dict[str, float]:
        end = self._totals()
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sample_postgres()
        span = end["machine_total"] - self._start["machine_total"]
        used = {key: end[key] - self._start[key] for key in end if key != "machine_total"}
        used["postgres"] = sum(cpu - self._first.get(pid, 0.0) for pid, cpu in self._last.items())
        used["machine_share"] = used["machine"] / max(span, 1e-9)
        return used
