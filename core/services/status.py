"""Provider status callbacks: stored as received, then applied to what they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core import deliveries
from core.channels.base import Channel, Outcome
from core.channels.errors import StatusUpdate
from core.fanout import FanoutPolicy
from core.models import Message, MessageStatusEvent
from core.services import addresses


async def record_status(
    session: AsyncSession,
    update_: StatusUpdate,
    *,
    channel: Channel,
    payload: dict[str, Any],
    now: datetime,
    policy: FanoutPolicy,
) -> deliveries.StatusApplied:
    """Store the callback, move the conversation message and the announcement delivery
    it describes forward, and honour a provider-side STOP (the adapter's
    :attr:`Outcome.OPTED_OUT`, e.g. Twilio 21610). The caller enqueues
    ``applied.requeued`` (a batch to send again) after committing."""
    session.add(
        MessageStatusEvent(
            provider=update_.provider,
            provider_message_id=update_.provider_message_id,
            status=update_.status.value,
            error_code=update_.error_code,
            payload=payload,
            received_at=now,
        )
    )
    await session.execute(
        update(Message)
        .where(
            Message.provider == update_.provider,
            Message.provider_message_id == update_.provider_message_id,
        )
        .values(status=update_.status.value, error_code=update_.error_code, updated_at=now)
    )
    if update_.outcome is Outcome.OPTED_OUT and update_.address:
        await addresses.opt_out(session, channel, update_.address, now=now)
    return await deliveries.apply_status(
        session,
        update_.provider,
        update_.provider_message_id,
        update_.status,
        update_.error_code,
        now,
        error_reason=update_.detail,
        outcome=update_.outcome,
        policy=policy,
    )
