"""Reaching a member who is not the one writing (an official told of a new signup, a
member told they were verified), where core.routing.best_address says they can be."""

from __future__ import annotations

import uuid

from bot.context import Context
from core.channels.base import Reply
from core.routing import best_address


async def tell(ctx: Context, member_id: uuid.UUID, text: str) -> None:
    """Queue ``text`` to the member, sent after the commit."""
    target = await best_address(ctx.session, member_id, now=ctx.now)
    if target is not None:
        channel, address = target
        ctx.later(lambda: ctx.outbox.send(channel, address, Reply(text)))
