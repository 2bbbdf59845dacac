"""How an address or a member is reached: the one place that knows which provider
carries a channel to an address, which token bucket a send takes from, and where a
member who is not the one writing can be told something.

- SMS to numbers with the configured DLT prefixes (``sms_dlt_country_codes``, India)
  goes through the DLT-registered provider — Twilio may not carry political SMS there —
  and other numbers through Twilio. :func:`dlt_patterns` feeds the same prefixes to the
  fan-out's SQL (``LIKE ANY``), so the database and Python cannot disagree.
- WhatsApp takes free text only inside its 24-hour customer-service window (the member
  wrote in the last 24 hours); outside it only an approved template goes (Twilio 63016).
- Replies, OTP codes, notices to officials and announcements all route through here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.models import ChannelAddress, Member

WHATSAPP_WINDOW = timedelta(hours=24)
"""WhatsApp's customer-service window, and the tier's rolling period."""

DLT = "dlt"
TWILIO = "twilio"
TELEGRAM = "telegram"
CONSOLE = "console"


def sms_provider(address: str, dlt_prefixes: tuple[str, ...]) -> str:
    """Which provider carries an SMS to ``address`` (E.164)."""
    return DLT if address.startswith(dlt_prefixes) else TWILIO


def provider_for(channel: Channel | str, address: str, dlt_prefixes: tuple[str, ...]) -> str:
    """Which provider carries ``channel`` to ``address``."""
    channel = Channel(channel)
    if channel is Channel.SMS:
        return sms_provider(address, dlt_prefixes)
    if channel is Channel.TELEGRAM:
        return TELEGRAM
    if channel is Channel.CONSOLE:
        return CONSOLE
    return TWILIO


def bucket_kind(channel: Channel | str, provider: str) -> str:
    """Which token bucket a message takes from (core.ratelimit.bucket_specs)."""
    channel = Channel(channel)
    if channel is Channel.WHATSAPP:
        return "whatsapp"
    if channel is Channel.TELEGRAM:
        return "telegram"
    return "sms_dlt" if provider == DLT else "sms_twilio"


def dlt_patterns(dlt_prefixes: tuple[str, ...]) -> list[str]:
    """The DLT prefixes as SQL ``LIKE`` patterns (escaped), for the fan-out's SQL."""
    return [p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for p in dlt_prefixes]  # fmt: skip


def in_whatsapp_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether free text may go to a WhatsApp address that last wrote at ``last_inbound_at``."""
    return last_inbound_at is not None and now - last_inbound_at <= WHATSAPP_WINDOW


async def _addresses(session: AsyncSession, member_id: uuid.UUID) -> list[Any]:
    """The member's addresses, the one they last wrote from first."""
    return list(
        (
            await session.execute(
                select(
                    ChannelAddress.channel,
                    ChannelAddress.address,
                    ChannelAddress.last_inbound_at,
                    ChannelAddress.opted_out_at,
                    ChannelAddress.consent_refused_at,
                )
                .where(
                    ChannelAddress.member_id == member_id,
                    ChannelAddress.channel != Channel.CONSOLE.value,
                )
                .order_by(
                    ChannelAddress.last_inbound_at.desc().nulls_last(), ChannelAddress.created_at
                )
            )
        ).all()
    )


async def closed_whatsapp(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime
) -> str | None:
    """The member's WhatsApp address when WhatsApp is their best channel (the usable
    address they last wrote from) but its window is closed: only an approved template
    may go there now (core/notice_templates.py). None otherwise."""
    for channel, address, last_inbound, opted_out, refused in await _addresses(session, member_id):
        if opted_out is not None or refused is not None:
            continue
        if channel == Channel.WHATSAPP.value and not in_whatsapp_window(last_inbound, now):
            return str(address)
        return None
    return None


async def best_address(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime
) -> tuple[Channel, str] | None:
    """Where to tell a member something now (an official told of a new signup, a member
    told they were verified): the usable address they last wrote from — WhatsApp only
    inside its window, where free text is allowed — else their membership phone by SMS,
    on the fan-out's terms: only when they have no SMS address and never said STOP or
    refused consent on any channel. None when they cannot be reached."""
    rows = await _addresses(session, member_id)
    for channel, address, last_inbound, opted_out, refused in rows:
        if opted_out is not None or refused is not None:
            continue
        if channel == Channel.WHATSAPP.value and not in_whatsapp_window(last_inbound, now):
            continue  # free text would be refused outside the window (Twilio 63016)
        return Channel(channel), address
    if any(r.channel == Channel.SMS.value or r.opted_out_at or r.consent_refused_at for r in rows):
        return None
    phone = await session.scalar(select(Member.phone).where(Member.id == member_id))
    return (Channel.SMS, phone) if phone else None
