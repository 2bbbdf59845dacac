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
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from core import routing
from core.channels.base import Channel
from core.security import keyed_hmac

WINDOW = routing.WHATSAPP_WINDOW
ROOM_REUSE = timedelta(seconds=30)
"""How long :meth:`Ledger.has_room` reuses a count of the day's recipients ..."""
ROOM_MARGIN = 1000
"""... while more than this many slots were left."""

RECENT_MEMBERS_SQL = """
SELECT member_id FROM announcement_deliveries
WHERE whatsapp_tier_at > CAST(:window_start AS timestamptz)
  AND status NOT IN ('failed', 'skipped')
UNION
SELECT member_id FROM whatsapp_tier_uses
WHERE at > CAST(:window_start AS timestamptz) AND member_id IS NOT NULL
"""
"""Members who hold a tier slot in the window starting at ``:window_start``."""

_HOLDS_SQL = (
    "SELECT 1 FROM announcement_deliveries WHERE member_id = :m"
    " AND whatsapp_tier_at > CAST(:window_start AS timestamptz)"
    " AND status NOT IN ('failed', 'skipped')"
    " UNION ALL SELECT 1 FROM whatsapp_tier_uses WHERE member_id = :m"
    " AND at > CAST(:window_start AS timestamptz)"
)
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
        self._room: tuple[datetime, int] | None = None

    async def has_room(self, address: str, *, now: datetime, daily_limit: int) -> bool:
        """Whether a message outside the window may go to ``address`` now: it is inside
        the window (takes no slot), its member already holds a slot, or one is free."""
        async with self.db.connect() as conn:
            row = (await conn.execute(_ADDRESS, {"a": address})).first()
            if row is not None and routing.in_whatsapp_window(row.last_inbound_at, now):
                return True
            if row is not None and row.member_id is not None:
                holds = await conn.scalar(
                    text(f"SELECT EXISTS ({_HOLDS_SQL})"),
                    {"m": row.member_id, "window_start": now - WINDOW},
                )
                if holds:
                    return True
            # Counting the day's recipients reads every slot taken: a reminder run of
            # thousands reuses one count while plenty of room is left.
            cached = self._room
            if cached is not None and now - cached[0] < ROOM_REUSE and cached[1] > ROOM_MARGIN:
                self._room = (cached[0], cached[1] - 1)
                return True
            room = await capacity(conn, now=now, daily_limit=daily_limit)
            self._room = (now, room - 1)
            return room > 0

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
