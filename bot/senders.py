"""The provider senders the bot uses, and the outbox that picks one per message."""

from __future__ import annotations

from dataclasses import dataclass

from core.channels.base import Channel, Reply
from core.channels.dlt import DltSender
from core.channels.telegram import TelegramSender
from core.channels.twilio import TwilioSender
from core.config import Settings


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
    """Sends through the real providers (or the fakes their base URLs point to).

    SMS to Indian numbers goes through the DLT-registered provider (Twilio may not carry
    political SMS in India); other numbers through Twilio."""

    def __init__(self, settings: Settings, senders: Senders) -> None:
        self.settings = settings
        self.senders = senders

    def _via_dlt(self, phone: str) -> bool:
        return phone.startswith(self.settings.dlt_prefixes)

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        if channel is Channel.TELEGRAM:
            await self.senders.telegram.send(address, reply, button_label=reply.button)
        elif channel is Channel.SMS and self._via_dlt(address):
            await self.senders.dlt.send(
                address, reply.as_plain_text(), template_id=self.settings.dlt_reply_template_id
            )
        elif channel in (Channel.WHATSAPP, Channel.SMS):
            await self.senders.twilio.send_text(channel, address, reply)
        else:
            raise ValueError(f"no provider sends to {channel}")

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        if self._via_dlt(phone):
            template_id = self.settings.dlt_template_ids[template]
            await self.senders.dlt.send(phone, text, template_id=template_id)
        else:
            await self.senders.twilio.send_text(Channel.SMS, phone, Reply(text))
