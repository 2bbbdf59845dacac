"""The provider senders the bot uses, and the outbox that picks one per message."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import uuid4

from redis.asyncio import Redis

import notifier
from core.channels.base import Channel, Reply, SendError
from core.channels.dlt import DltSender
from core.channels.telegram import TelegramSender
from core.channels.twilio import TwilioSender
from core.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Senders:
    twilio: TwilioSender
    telegram: TelegramSender
    dlt: DltSender

    @classmethod
    def from_settings(cls, settings: Settings) -> Senders:
        return cls(TwilioSender(settings), TelegramSender(settings), DltSender(settings))

    async def close(self) -> None:
        await self.twilio.close()
        await self.telegram.close()
        await self.dlt.close()


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

    def _via_dlt(self, phone: str) -> bool:
        return phone.startswith(self.settings.dlt_prefixes)

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        await self._now_or_later(channel, address, reply)

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        await self._now_or_later(Channel.SMS, phone, Reply(text), sms_template=template)

    async def _now_or_later(
        self, channel: Channel, address: str, reply: Reply, *, sms_template: str | None = None
    ) -> None:
        key = uuid4().hex  # the priority lane sends it as "vck:reply:<key>" too
        try:
            await self._send(
                channel,
                address,
                reply,
                idempotency_key=f"vck:reply:{key}",
                sms_template=sms_template,
            )
        except SendError as exc:
            if exc.permanent:
                raise
            log.info("%s refused a message for now (%s): queued to retry", channel.value, exc.code)
            await notifier.enqueue_reply(
                self.redis, channel, address, reply, sms_template=sms_template, key=key
            )

    async def _send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        *,
        idempotency_key: str,
        sms_template: str | None,
    ) -> None:
        if channel is Channel.TELEGRAM:
            await self.senders.telegram.send(
                address, reply, button_label=reply.button, idempotency_key=idempotency_key
            )
        elif channel is Channel.SMS and self._via_dlt(address):
            template_id = self.settings.dlt_reply_template_id
            if sms_template:
                template_id = self.settings.dlt_template_ids[sms_template]
            await self.senders.dlt.send(
                address,
                reply.as_plain_text(),
                template_id=template_id,
                idempotency_key=idempotency_key,
            )
        elif channel in (Channel.WHATSAPP, Channel.SMS):
            await self.senders.twilio.send_text(
                channel, address, reply, idempotency_key=idempotency_key
            )
        else:
            raise ValueError(f"no provider sends to {channel}")
