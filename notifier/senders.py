"""How one delivery of an announcement is rendered and handed to its provider (the
providers are core.outbound's :class:`Senders`; a queued reply goes through its
:class:`Dispatcher`).

Every send carries an idempotency key (the adapters' ``idempotency_key``, sent as the
``Idempotency-Key`` header) derived from the delivery — the same for every attempt of
the same message — so a provider that honours it (the fakes with ``idempotent=True``)
answers a repeat with the original message instead of sending twice. Twilio, Telegram
and DLT providers do not: notifier/reconcile.py settles a send left in doubt instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.announcements import Content
from core.channels.base import Channel, Outcome, Reply, SendError, SendResult
from core.i18n import Language, format_moment
from core.outbound import Senders
from core.services import invitations

log = logging.getLogger(__name__)


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
    stamp: datetime | None = None
    """The attempt's ``sending_at``, written by its claim: only that claim's sender
    records the outcome (notifier/sending.py)."""

    def key(self, announcement_id: Any) -> str:
        kind = "t" if self.via_template else "f"
        return f"vck:{announcement_id}:{self.member_id}:{self.channel}:{kind}"


class TemplateMissing(SendError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"no approved template: {what}", code="template", outcome=Outcome.PERMANENT
        )


def _variables(content: Content, language: str, mapping: dict[str, Any]) -> dict[str, str]:
    title, body = content.in_language(language)
    fields = {"title": title, "content": body, "text": content.message(language)}
    if content.invitation is not None:  # the event_invitation template (migration 0016)
        fields["when"] = format_moment(content.invitation.start_time, Language(language))
        fields["venue"] = content.invitation.venue_name or "-"
    # WhatsApp template variables may not hold newlines or long runs of spaces.
    return {slot: " ".join(fields.get(str(name), "").split()) for slot, name in mapping.items()}


def reply_for(content: Content, delivery: Outgoing) -> Reply:
    """The free-text message of a WhatsApp or Telegram delivery. An event's invitation
    carries its two answers as buttons: on Telegram naming the event, on WhatsApp the
    same two for every event (core/services/invitations.py)."""
    text = content.message(delivery.language)
    if content.invitation is None:
        return Reply(text)
    named = content.invitation.event_id if delivery.channel == "telegram" else None
    return Reply(text, invitations.choices(delivery.language, named))


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
            reply_for(content, delivery),
            status_callback=senders.twilio_status_url,
            idempotency_key=key,
        )
    if delivery.channel == "telegram":
        return await senders.telegram.send(
            delivery.address, reply_for(content, delivery), idempotency_key=key
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


def _words(text: str) -> str:
    return " ".join(text.split())


def is_this_message(content: Content, delivery: Outgoing, body: str) -> bool:
    """Whether a message a provider lists with ``body`` is this delivery's (Twilio: the
    same text; a WhatsApp template: every variable's value in its rendered body)."""
    language = delivery.language
    if delivery.channel == "whatsapp" and delivery.via_template:
        template = content.template(language)
        if template is None:
            return False
        values = _variables(content, template.language, dict(template.whatsapp_variables))
        wanted = [v for v in values.values() if v]
        return bool(wanted) and all(v in _words(body) for v in wanted)
    if delivery.channel == "whatsapp":
        expected = reply_for(content, delivery).as_plain_text()  # with its numbered answers
    else:
        expected = content.sms(language)[0]
    return _words(body) == _words(expected)
