"""Notices as WhatsApp utility templates, outside the 24-hour window.

A notice to one member (an event's reminder, a change to their complaint) is free text
(core/effects.py ``notice``). WhatsApp refuses free text to a member who has not written
in 24 hours (Twilio 63016), so core.routing.best_address skips such an address and the
member gets Telegram or SMS. A notice may instead name a *utility* template and fill
its variables (:class:`Named`): when the member's best channel is WhatsApp and its
window is closed (core.routing.closed_whatsapp), :func:`notice` writes the approved
template of the member's language — ``message_templates``, category ``utility``, with a
ContentSid — beside the free text and where it would have gone (``fallback``).

At delivery (core.effects.perform) the template goes when the WhatsApp tier has room
(core/whatsapp_tier.py counts it, as every business-initiated message); when the tier
is spent, or Twilio refuses the template for good (paused, rejected), the free text goes
to the fallback instead — Telegram, else SMS (DLT on Indian numbers), as before.

The templates an operator must have approved: docs/notifier.md ("Notice templates");
migration 0014 registers them with placeholder ContentSids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import effects, routing
from core.channels.base import Channel

EVENT_REMINDER = "event_reminder"
"""Variables: title, when, venue."""
GRIEVANCE_UPDATE = "grievance_update"
"""Variables: ticket, status."""

VARIABLE_MAX = 300
"""A variable's characters at most (WhatsApp takes more; a notice never needs it)."""


@dataclass(frozen=True, slots=True)
class Named:
    """A utility template by name, with the values of its fields in the member's language."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Approved:
    content_sid: str
    variables: dict[str, str]
    """ContentVariables slot → field name, e.g. {"1": "title", "2": "when"}."""
    language: str


_APPROVED = text(
    "SELECT language, whatsapp_content_sid, whatsapp_variables FROM message_templates"
    " WHERE name = :name AND category = 'utility' AND is_active"
    " AND whatsapp_content_sid IS NOT NULL AND whatsapp_content_sid <> ''"
)


async def approved(session: AsyncSession, name: str) -> dict[str, Approved]:
    """The active, approved utility templates called ``name``, by language."""
    rows = await session.execute(_APPROVED, {"name": name})
    return {
        r.language: Approved(r.whatsapp_content_sid, dict(r.whatsapp_variables or {}), r.language)
        for r in rows
    }


def pick(found: dict[str, Approved], language: str) -> Approved | None:
    """The member's language, else None: a template in another language would mix its
    fixed text with variables in the member's (and the fallback reads right)."""
    return found.get(language)


def variables(template: Approved, fields: dict[str, str]) -> dict[str, str]:
    """ContentVariables: each slot's field, on one line (WhatsApp refuses newlines and
    long runs of spaces in a variable), never empty (refused too)."""
    out = {}
    for slot, name in template.variables.items():
        value = " ".join(str(fields.get(str(name), "")).split())[:VARIABLE_MAX]
        out[str(slot)] = value or "-"
    return out


def payload(
    address: str,
    reply_text: str,
    template: Approved,
    fields: dict[str, str],
    fallback: tuple[Channel, str] | None,
) -> dict[str, Any]:
    """The outbox payload of a notice that goes as a template."""
    return effects.notice(
        Channel.WHATSAPP,
        address,
        reply_text,
        template={"sid": template.content_sid, "variables": variables(template, fields)},
        fallback=fallback,
    )


async def notice(
    session: AsyncSession,
    member_id: uuid.UUID,
    reply_text: str,
    *,
    language: str,
    now: datetime,
    template: Named | None = None,
) -> dict[str, Any] | None:
    """The outbox payload telling ``member_id`` ``reply_text``: as ``template`` when their
    best channel is WhatsApp outside its window and the template is approved in their
    language, else free text where core.routing.best_address says. None when they
    cannot be reached."""
    fallback = await routing.best_address(session, member_id, now=now)
    if template is not None:
        address = await routing.closed_whatsapp(session, member_id, now=now)
        if address is not None:
            found = pick(await approved(session, template.name), language)
            if found is not None:
                return payload(address, reply_text, found, template.fields, fallback)
    if fallback is None:
        return None
    return effects.notice(*fallback, reply_text)
