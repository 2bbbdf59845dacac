"""Reaching a member who is not the one writing (an official told of a new signup, a
member told they were verified), where core.routing.best_address says they can be,
once the message's transaction has committed (an outbox effect)."""

from __future__ import annotations

import uuid

from bot.context import Context
from core import effects
from core.routing import best_address


async def tell(ctx: Context, member_id: uuid.UUID, text: str) -> None:
    """Queue ``text`` to the member, sent after the commit."""
    target = await best_address(ctx.session, member_id, now=ctx.now)
    if target is not None:
        channel, address = target
        await ctx.effect(effects.Kind.NOTICE, effects.notice(channel, address, text))
