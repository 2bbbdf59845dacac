"""How the bot process sends: replies through the providers at once, else the priority
lane; a step's effects (core/effects.py) at once, else left in the outbox for the
worker's sweep."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from uuid import uuid4

from redis.asyncio import Redis

import notifier
from core.channels.base import Channel, Reply, SendError
from core.config import Settings
from notifier.senders import Senders, send_reply

log = logging.getLogger(__name__)


class ProviderOutbox:
    """Sends through the real providers (or the fakes their base URLs point to), at once.

    SMS to Indian numbers goes through the DLT-registered provider (Twilio may not carry
    political SMS in India); other numbers through Twilio.

    What a provider refuses for now (429 while an announcement drains at full rate, a
    5xx, a timeout) goes to the notifier's priority lane with the same idempotency key;
    the lane waits for the sender's reserved tokens and retries. A reply or an OTP code
    is late at worst, never lost; a permanent refusal is raised."""

    def __init__(self, settings: Settings, senders: Senders, redis: Redis) -> None:
        self.settings = settings
        self.senders = senders
        self.redis = redis

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        await self._now_or_later(channel, address, reply)

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        await self._now_or_later(Channel.SMS, phone, Reply(text), sms_template=template)

    async def _now_or_later(
        self, channel: Channel, address: str, reply: Reply, *, sms_template: str | None = None
    ) -> None:
        key = uuid4().hex  # the priority lane sends it as "vck:reply:<key>" too
        try:
            await send_reply(
                self.senders,
                self.settings,
                channel,
                address,
                reply,
                key=f"vck:reply:{key}",
                sms_template=sms_template,
            )
        except SendError as exc:
            if exc.permanent:
                raise
            log.info("%s refused a message for now (%s): queued to retry", channel.value, exc.code)
            await notifier.enqueue_reply(
                self.redis, channel, address, reply, sms_template=sms_template, key=key
            )


class BotPorts:
    """core.effects.Ports for the bot process. A send a provider refuses raises, so its
    outbox row stays for the worker's sweep (with backoff): an OTP code is never put on a
    queue, because the row keeps only what derives it."""

    def __init__(self, settings: Settings, senders: Senders, redis: Redis) -> None:
        self.settings = settings
        self.senders = senders
        self.redis = redis

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        await send_reply(
            self.senders, self.settings, channel, address, reply, key=f"vck:effect:{uuid4().hex}"
        )

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        await send_reply(
            self.senders,
            self.settings,
            Channel.SMS,
            phone,
            Reply(text),
            key=f"vck:effect:{uuid4().hex}",
            sms_template=template,
        )

    async def schedule_publish(
        self, announcement_id: uuid.UUID, publish_at: datetime | None
    ) -> None:
        await notifier.schedule_publish(self.redis, announcement_id, publish_at)

    async def forget_conversations(self, keys: list[str]) -> None:
        await self.redis.delete(*keys)
