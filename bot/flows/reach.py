"""Reaching a member who is not the one writing, once the message's transaction has
committed (where: :func:`core.services.notices.best_address`)."""

from __future__ import annotations

import uuid

from bot.context import Context
from core import effects
from core.services import notices


async def tell(ctx: Context, member_id: uuid.UUID, text: str) -> None:
    """Queue ``text`` to the member, sent after the commit."""
    target = await notices.best_address(ctx.session, member_id, now=ctx.now)
    if target is not None:
        channel, address = target
        await ctx.effect(effects.Kind.NOTICE, effects.notice(channel, address, text))
