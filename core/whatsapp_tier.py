"""The WhatsApp tier: how many unique members the account has reached outside the
24-hour customer-service window in the last rolling day — the one place that counts.

Meta limits the business-initiated conversations of an account (its tier, e.g. 100,000
unique recipients a rolling day), whatever started them: an announcement's template, an
OTP code, a notice, an event's reminder. Two kinds of record, read together here:

- an announcement's rows carry ``announcement_deliveries.whatsapp_tier_at``, set by the
  fan-out in its one set-based write (a million rows: a second table would double it);
- every other business-initiated message is a row of ``whatsapp_tier_uses``, written by
  :func:`record` — through :class:`Ledger` for a message to an address, which
  ``core.outbound.EffectPorts`` calls after each WhatsApp send it makes (codes,
  notices, replies the providers refused for a while). Whoever adds another kind of
  one-to-one message (reminders) sends it through ``EffectPorts`` or calls
  :func:`record`.

:func:`capacity` (publishing, releasing deferred members) and :data:`RECENT_MEMBERS_SQL`
(members who already hold a slot and take no new one) read both. A message inside the
window — the member wrote in the last 24 hours — takes no slot and is not recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from core import routing
from core.channels.base import Channel
from core.security import keyed_hmac

WINDOW = routing.WHATSAPP_WINDOW

RECENT_MEMBERS_SQL = """
SELECT member_id FROM announcement_deliveries
WHERE whatsapp_tier_at > CAST(:window_start AS timestamptz)
  AND status NOT IN ('failed', 'skipped')
UNION
SELECT member_id FROM whatsapp_tier_uses
WHERE at > CAST(:window_start AS timestamptz) AND member_id IS NOT NULL
"""
"""Members who hold a tier slot in the window starting at ``:window_start``."""

_USED = text(
    "SELECT count(*) FROM ("
    " SELECT CAST(member_id AS text) FROM announcement_deliveries"
    " WHERE whatsapp_tier_at > :since AND status NOT IN ('failed', 'skipped')"
    " UNION"
    " SELECT coalesce(CAST(member_id AS text), address_key) FROM whatsapp_tier_uses"
    " WHERE at > :since"
    ") AS reached"
)
_RECORD = text("INSERT INTO whatsapp_tier_uses (member_id, address_key, at) VALUES (:m, :k, :at)")
_ADDRESS = text(
    "SELECT member_id, last_inbound_at FROM channel_addresses"
    " WHERE channel = 'whatsapp' AND address = :a"
)


async def used(session: AsyncSession | AsyncConnection, *, now: datetime) -> int:
    """Unique recipients reached outside the window in the rolling day before ``now``."""
    return int(await session.scalar(_USED, {"since": now - WINDOW}) or 0)


async def capacity(
    session: AsyncSession | AsyncConnection, *, now: datetime, daily_limit: int
) -> int:
    """Unique recipients the account may still reach outside the window."""
    return max(0, daily_limit - await used(session, now=now))


def address_key(secret: str, address: str) -> str:
    """A recipient who is no member, as stored: a keyed HMAC, never the number."""
    return keyed_hmac(secret, "whatsapp-tier", address)[:64]


async def record(
    session: AsyncSession | AsyncConnection,
    *,
    member_id: uuid.UUID | None,
    key: str | None,
    now: datetime,
) -> None:
    """One business-initiated message outside the window (``member_id``, else ``key``:
    :func:`address_key`)."""
    await session.execute(_RECORD, {"m": member_id, "k": None if member_id else key, "at": now})


class Ledger:
    """Records one-to-one WhatsApp messages that went outside the window."""

    def __init__(self, db: AsyncEngine, secret: str) -> None:
        self.db = db
        self.secret = secret

    async def sent(self, channel: Channel, address: str, *, now: datetime) -> bool:
        """``channel`` carried a message to ``address`` just now: record it when it was
        WhatsApp outside the address's window. True when it took a slot."""
        if channel is not Channel.WHATSAPP:
            return False
        async with self.db.begin() as conn:
            row = (await conn.execute(_ADDRESS, {"a": address})).first()
            if row is not None and routing.in_whatsapp_window(row.last_inbound_at, now):
                return False
            member_id = row.member_id if row is not None else None
            await record(conn, member_id=member_id, key=address_key(self.secret, address),
                         now=now)  # fmt: skip
        return True
