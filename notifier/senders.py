"""The provider senders the worker uses, and how one delivery (or one queued reply) is
rendered and handed to its provider.

Every send carries an idempotency key (the adapters' ``idempotency_key``, sent as the
``Idempotency-Key`` header) derived from the delivery — the same for every attempt of
the same message — so a provider that honours it (our fakes do; see docs/notifier.md)
answers a repeat with the original message instead of sending twice.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from core.announcements import Content
from core.channels.base import Channel, Reply, SendError, SendResult
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
    twilio_status_url: str
    dlt_status_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Senders:
        """The adapters open their HTTP sessions on first use, inside the event loop."""
        base = settings.public_base_url.rstrip("/")
        return cls(
            TwilioSender(settings),
            TelegramSender(settings),
            DltSender(settings),
            f"{base}/webhooks/twilio/status",
            f"{base}/webhooks/dlt/status",
        )

    async def close(self) -> None:
        for sender in (self.twilio, self.telegram, self.dlt):
            with contextlib.suppress(Exception):
                await sender.close()


def bucket_kind(channel: str, provider: str) -> str:
    """Which token bucket a message takes from (core.ratelimit.bucket_specs)."""
    if channel == "whatsapp":
        return "whatsapp"
    if channel == "telegram":
        return "telegram"
    return "sms_dlt" if provider == "dlt" else "sms_twilio"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery row, claimed and ready to send."""

    member_id: Any
    channel: str
    provider: str
    address: str
    language: str
    via_template: bool
    attempts: int

    def key(self, announcement_id: Any) -> str:
        kind = "t" if self.via_template else "f"
        return f"vck:{announcement_id}:{self.member_id}:{self.channel}:{kind}"


class TemplateMissing(SendError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no approved template: {what}", code="template", permanent=True)


def _variables(content: Content, language: str, mapping: dict[str, Any]) -> dict[str, str]:
    title, body = content.in_language(language)
    fields = {"title": title, "content": body, "text": content.message(language)}
    # WhatsApp template variables may not hold newlines or long runs of spaces.
    return {slot: " ".join(fields.get(str(name), "").split()) for slot, name in mapping.items()}


async def send_delivery(
    senders: Senders, content: Content, delivery: Outgoing, *, key: str
) -> SendResult:
    """Render ``content`` for this member and send it on the delivery's channel.
    Raises :class:`SendError` as the adapters classify it."""
    language = delivery.language
    if delivery.channel == "whatsapp":
        if delivery.via_template:
            template = content.template(language)
            if template is None or not template.whatsapp_content_sid:
                raise TemplateMissing(f"WhatsApp {language}")
            return await senders.twilio.send_template(
                delivery.address,
                template.whatsapp_content_sid,
                _variables(content, template.language, dict(template.whatsapp_variables)),
                status_callback=senders.twilio_status_url,
                idempotency_key=key,
            )
        return await senders.twilio.send_text(
            Channel.WHATSAPP,
            delivery.address,
            Reply(content.message(language)),
            status_callback=senders.twilio_status_url,
            idempotency_key=key,
        )
    if delivery.channel == "telegram":
        return await senders.telegram.send(
            delivery.address, Reply(content.message(language)), idempotency_key=key
        )
    text, template = content.sms(language)
    if delivery.provider == "dlt":
        if template is None or not template.dlt_template_id:
            raise TemplateMissing(f"DLT {language}")
        return await senders.dlt.send(
            delivery.address,
            text,
            template_id=template.dlt_template_id,
            status_callback=senders.dlt_status_url,
            custom_field=key,
            idempotency_key=key,
        )
    return await senders.twilio.send_text(
        Channel.SMS,
        delivery.address,
        Reply(text),
        status_callback=senders.twilio_status_url,
        idempotency_key=key,
    )


async def send_reply(
    senders: Senders,
    settings: Settings,
    channel: Channel,
    address: str,
    reply: Reply,
    *,
    key: str,
    sms_template: str | None = None,
) -> SendResult:
    """A message to one person through the priority lane (not an announcement).
    SMS to Indian numbers goes through the DLT provider with the template registered for
    ``sms_template`` (``settings.dlt_template_ids``), else the reply template."""
    if channel is Channel.TELEGRAM:
        return await senders.telegram.send(
            address, reply, button_label=reply.button, idempotency_key=key
        )
    if channel is Channel.SMS and address.startswith(settings.dlt_prefixes):
        template_id = (
            settings.dlt_template_ids[sms_template]
            if sms_template
            else settings.dlt_reply_template_id
        )
        return await senders.dlt.send(
            address,
            reply.as_plain_text(),
            template_id=template_id,
            custom_field=key,
            idempotency_key=key,
        )
    if channel in (Channel.WHATSAPP, Channel.SMS):
        return await senders.twilio.send_text(channel, address, reply, idempotency_key=key)
    raise SendError(f"no provider sends to {channel}", code="channel", permanent=True)
