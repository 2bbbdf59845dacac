"""The one place the bot process builds its parts: settings, database, Redis, the
provider senders, the conversation engine. Everything else receives them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import asked
from bot.engine import Engine
from bot.metrics import Metrics
from core import effects, whatsapp_tier
from core.channels import twilio
from core.channels.base import Channel, Reply
from core.config import Settings
from core.db import Timeouts, make_engine, make_redis, make_session_factory
from core.jobs import Jobs, redis_jobs
from core.outbound import Dispatcher, EffectPorts, NowOrQueued, PriorityTokens, Senders
from core.ratelimit import Limiter, bucket_specs

log = logging.getLogger(__name__)


@dataclass
class Bot:
    settings: Settings
    db: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis
    senders: Senders
    outbox: NowOrQueued
    jobs: Jobs
    conversation: Engine
    metrics: Metrics
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def send_now(self, channel: Channel, address: str, reply: Reply) -> None:
        """Send a reply to the member who wrote, recording a failure instead of raising:
        the member's message was handled and committed either way. Which message now
        carries the buttons is remembered (bot/asked.py)."""
        try:
            sent = await self.outbox.send(channel, address, reply)
            if channel in (Channel.WHATSAPP, Channel.TELEGRAM):
                buttons = (
                    twilio.has_native_choices(reply)
                    if channel is Channel.WHATSAPP
                    else bool(reply.choices)
                )
                await asked.shown(
                    self.redis, self.settings, channel, address, buttons=buttons, message_id=sent
                )
        except Exception:
            self.metrics.errors.labels("reply_send").inc()
            log.exception("reply to %s could not be sent", channel.value)

    def send_soon(self, channel: Channel, address: str, reply: Reply) -> None:
        """Send in the background, after the webhook has been answered."""
        task = asyncio.create_task(self.send_now(channel, address, reply))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for background sends (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.senders.close()
        await self.conversation.gateway.close()
        await self.redis.aclose()
        await self.db.dispose()


def build_bot(settings: Settings) -> Bot:
    db = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        timeouts=Timeouts.from_settings(settings),
    )
    session_factory = make_session_factory(db)
    redis = make_redis(settings)
    senders = Senders.from_settings(settings)
    jobs = redis_jobs(redis)
    dispatcher = Dispatcher(senders, settings)
    # Replies, codes and notices take the priority share of the buckets the worker's
    # announcements take from, so together they never exceed a provider's rate.
    tokens = PriorityTokens(
        Limiter(redis, bucket_specs(settings)),
        dispatcher,
        strict=False,
        max_wait=effects.TOKEN_WAIT.total_seconds(),
    )
    outbox = NowOrQueued(dispatcher, jobs, db, tokens)
    tier = whatsapp_tier.Ledger(db, settings.secret_key.get_secret_value())
    ports = EffectPorts(dispatcher, jobs, tokens, tier)
    return Bot(
        settings=settings,
        db=db,
        session_factory=session_factory,
        redis=redis,
        senders=senders,
        outbox=outbox,
        jobs=jobs,
        conversation=Engine(settings, db, redis, ports),
        metrics=Metrics(),
    )
