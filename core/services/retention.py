"""Retention: what the log keeps, and for how long (DPDP: keep no longer than needed).

- OTP rows: ``retention_otp_days`` (1). The send limits look back 24 hours; nothing
  needs a code row after that.
- Message bodies: ``retention_message_body_days`` (90). The rows stay without text:
  they are the inbound log that makes a provider's retry harmless, and the audit of
  who was written to when.
- Status callbacks: ``retention_status_event_days`` (90). The delivery rows keep the
  final status; the raw callbacks are for diagnosing a provider, which is done in days.

The worker runs :func:`purge` daily; ``vck privacy purge`` runs it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings

CONVERSATION_DAYS = 1
"""A conversation idle this long is forgotten (what its member typed half-way with it);
it timed out long before (``conversation_idle_minutes``)."""


@dataclass(frozen=True, slots=True)
class Purged:
    otp_codes: int
    message_bodies: int
    status_events: int
    conversations: int


async def purge(session: AsyncSession, settings: Settings, *, now: datetime) -> Purged:
    """Remove what is past its retention; the caller commits."""

    async def run(sql: str, days: int) -> int:
        result = await session.execute(text(sql), {"before": now - timedelta(days=days)})
        return int(getattr(result, "rowcount", 0) or 0)

    return Purged(
        otp_codes=await run(
            "DELETE FROM otp_verifications WHERE created_at < :before",
            settings.retention_otp_days,
        ),
        message_bodies=await run(
            "UPDATE messages SET body = NULL WHERE body IS NOT NULL AND created_at < :before",
            settings.retention_message_body_days,
        ),
        status_events=await run(
            "DELETE FROM message_status_events WHERE received_at < :before",
            settings.retention_status_event_days,
        ),
        conversations=await run(
            "DELETE FROM conversation_states WHERE updated_at < :before",
            CONVERSATION_DAYS,
        ),
    )
