"""Where to tell a member something they did not ask for just now (an official told of a
new signup, a member told they were verified).

On the address they last wrote from — but WhatsApp only inside its 24-hour window, where
free text is allowed; else Telegram, else SMS to the member's phone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.models import ChannelAddress, Member

WHATSAPP_WINDOW = timedelta(hours=24)


async def best_address(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime
) -> tuple[Channel, str] | None:
    rows = await session.execute(
        select(ChannelAddress.channel, ChannelAddress.address, ChannelAddress.last_inbound_at)
        .where(
            ChannelAddress.member_id == member_id,
            ChannelAddress.consent_refused_at.is_(None),
            ChannelAddress.channel != Channel.CONSOLE.value,
        )
        .order_by(ChannelAddress.last_inbound_at.desc().nulls_last(), ChannelAddress.created_at)
    )
    for channel, address, last_inbound in rows:
        if channel == Channel.WHATSAPP.value and (
            last_inbound is None or now - last_inbound > WHATSAPP_WINDOW
        ):
            continue  # free text would be refused outside the window (Twilio 63016)
        return Channel(channel), address
    phone = await session.scalar(select(Member.phone).where(Member.id == member_id))
    return (Channel.SMS, phone) if phone else None
