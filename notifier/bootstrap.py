"""The one place the worker builds its parts: settings, database, Redis, the provider
senders, the rate limiter. Everything else receives them as :class:`Deps`."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings
from core.db import Timeouts, make_engine, make_redis, make_session_factory
from core.fanout import FanoutPolicy
from core.jobs import JobQueue, RedisQueue
from core.outbound import Dispatcher, Senders
from core.ratelimit import Limiter, bucket_specs


class NotifierOptions(BaseSettings):
    """The worker's own knobs (prefix ``VCK_NOTIFIER_``); provider rates, the batch size
    and the WhatsApp tier are in :class:`core.config.Settings`."""

    model_config = SettingsConfigDict(env_prefix="VCK_NOTIFIER_", env_file=".env", extra="ignore")

    max_jobs: int = 12
    """Batch jobs one process runs at once (they share the token buckets)."""
    priority_max_jobs: int = 64
    concurrency: int = 128
    """Messages claimed and in flight per process, per sender (WhatsApp, SMS)."""
    telegram_concurrency: int = 8
    """Telegram takes ~30 messages/s per bot: a few in flight keep up with that."""
    group_max: int = 64
    """Rows claimed and sent together (one claim and one record statement each)."""
    max_attempts: int = 6
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    lease_seconds: float = 15.0
    """A batch job holds its batch this long between heartbeats; a killed worker's
    batches are taken over once it lapses."""
    sweep_seconds: int = 10
    batch_run_seconds: float = 120.0
    """A batch job yields its slot after this long and continues as a new try."""
    job_timeout_seconds: int = 900
    record_retry_seconds: float = 30.0
    """How long recording a group's outcomes is retried while PostgreSQL is away;
    past that the sends are left in doubt and settled later (notifier/reconcile.py)."""
    poll_delay_seconds: float = 0.1
    priority_poll_delay_seconds: float = 0.02


class Capacity:
    """Room for ``size`` messages in flight: a batch claims rows only when it can send
    them at once, so an opt-out is checked right before the send."""

    def __init__(self, size: int) -> None:
        self.free = max(1, size)
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def take(self, want: int) -> int:
        """Wait for room, then reserve up to ``want`` (at least one)."""
        while self.free <= 0:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                self._wake()
                raise
        taken = min(self.free, max(1, want))
        self.free -= taken
        return taken

    def give(self, n: int) -> None:
        self.free += n
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.free > 0:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


@dataclass
class Deps:
    settings: Settings
    options: NotifierOptions
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis
    senders: Senders
    dispatcher: Dispatcher
    """Replies through the priority lane: the bot's own way of sending one."""
    limiter: Limiter
    policy: FanoutPolicy
    queue: JobQueue
    capacities: dict[str, Capacity] = field(default_factory=dict)

    def capacity(self, kind: str) -> Capacity:
        """In-flight room for one sender (bucket kind)."""
        if kind not in self.capacities:
            size = (
                self.options.telegram_concurrency
                if kind == "telegram"
                else self.options.concurrency
            )
            self.capacities[kind] = Capacity(size)
        return self.capacities[kind]

    async def close(self) -> None:
        await self.senders.close()
        await self.redis.aclose()
        await self.engine.dispose()


def build(
    settings: Settings, queue: JobQueue | None = None, *, options: NotifierOptions | None = None
) -> Deps:
    """Build the worker's parts; call inside the running event loop. The queue is the
    notifier's own Redis queues unless a test gives another."""
    options = options or NotifierOptions()
    # The fan-out raises its statements' bound (core.fanout); the client's must allow it.
    timeouts = Timeouts.from_settings(
        settings, longest_statement=settings.fanout_statement_timeout_seconds
    )
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, timeouts=timeouts)
    redis = make_redis(settings)
    senders = Senders.from_settings(settings)
    return Deps(
        settings=settings,
        options=options,
        engine=engine,
        session_factory=make_session_factory(engine),
        redis=redis,
        senders=senders,
        dispatcher=Dispatcher(senders, settings),
        limiter=Limiter(redis, bucket_specs(settings)),
        policy=FanoutPolicy.from_settings(settings),
        queue=queue or RedisQueue(redis),
    )
