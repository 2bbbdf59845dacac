"""The outbox the bot sends through: the providers at once, else the priority lane."""

from __future__ import annotations

import logging
from uuid import uuid4

from core.channels.base import Channel, Reply, SendError
from core.config import Settings
from core.jobs import Jobs
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

    def __init__(self, settings: Settings, senders: Senders, jobs: Jobs) -> None:
        self.settings = settings
        self.senders = senders
        self.jobs = jobs

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
            await self.jobs.enqueue_reply(
                channel, address, reply, sms_template=sms_template, key=key
            )
