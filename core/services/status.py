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
from core.security import keyed_hmac
from core.services import addresses

PERSONAL_KEYS = frozenset(
    {"To", "From", "ChannelToAddress", "CustomField", "WaId", "ProfileName", "Body"}
)
"""Fields of a status callback that name a person: the recipient's number (``To``,
``ChannelToAddress``, WhatsApp's ``WaId``), their profile name, and the DLT
``CustomField`` — our idempotency key, which holds the member's id."""


def pseudonymised(payload: dict[str, Any], secret: str) -> dict[str, Any]:
    """The callback as stored: every personal field replaced by a keyed HMAC, so the
    table never holds a number (and erasure has nothing to look for), while equal
    values still compare equal for whoever holds the key."""
    return {
        key: ("hmac:" + keyed_hmac(secret, "status", str(value))[:32])
        if key in PERSONAL_KEYS and value
        else value
        for key, value in payload.items()
    }


async def record_status(
    session: AsyncSession,
    update_: StatusUpdate,
    *,
    channel: Channel,
    payload: dict[str, Any],
    now: datetime,
    secret: str,
    policy: FanoutPolicy,
) -> deliveries.StatusApplied:
    """Store the callback (:func:`pseudonymised` with ``secret``), move the conversation
    message and the announcement delivery it describes forward, and honour a
    provider-side STOP (the adapter's :attr:`Outcome.OPTED_OUT`, e.g. Twilio 21610).
    The caller enqueues ``applied.requeued`` (a batch to send again) after committing."""
    session.add(
        MessageStatusEvent(
            provider=update_.provider,
            provider_message_id=update_.provider_message_id,
            status=update_.status.value,
            error_code=update_.error_code,
            payload=pseudonymised(payload, secret),
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
    applied = await deliveries.apply_status(
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
    if not applied.matched and await deliveries.settle_reported(
        session, update_.provider, payload.get("CustomField"), update_.provider_message_id
    ):  # a DLT report for a send a stopped worker left uncertain
        applied = await deliveries.apply_status(
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
    return applied
