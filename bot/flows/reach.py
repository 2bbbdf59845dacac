"""Reaching a member who is not the one writing: on the address they last wrote from."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from core.channels.base import Channel, Reply
from core.models import ChannelAddress


async def best_address(session: AsyncSession, member_id: uuid.UUID) -> tuple[Channel, str] | None:
    row = (
        await session.execute(
            select(ChannelAddress.channel, ChannelAddress.address)
            .where(ChannelAddress.member_id == member_id)
            .order_by(ChannelAddress.last_inbound_at.desc().nulls_last(), ChannelAddress.created_at)
            .limit(1)
        )
    ).first()
    return (Channel(row.channel), row.address) if row else None


async def tell(ctx: Context, member_id: uuid.UUID, text: str) -> None:
    """Queue ``text`` to the member, sent after the commit."""
    target = await best_address(ctx.session, member_id)
    if target is not None:
        channel, address = target
        ctx.later(lambda: ctx.outbox.send(channel, address, Reply(text)))
