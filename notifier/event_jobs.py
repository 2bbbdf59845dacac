"""The events' cron (core/services/attendance.py, checkin.py): reminders before an event,
freed places passing on when an offer lapses, no-shows once an event has ended. Each in
its own transaction; what they tell members goes through the outbox, which the
priority lane's sweep delivers on the member's channel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.services import attendance, checkin

log = logging.getLogger(__name__)


class HasSessions(Protocol):
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]


async def event_chores(deps: HasSessions, *, now: datetime | None = None) -> int:
    """One pass; the number of reminders, lapsed offers and no-shows handled."""
    now = now or datetime.now(UTC)
    settings = deps.settings
    async with deps.session_factory.begin() as session:
        reminded = await checkin.send_reminders(session, now=now, settings=settings)
    async with deps.session_factory.begin() as session:
        lapsed = await attendance.expire_offers(session, now=now, settings=settings)
    async with deps.session_factory.begin() as session:
        await checkin.mark_ongoing(session, now=now)
        absent = await checkin.mark_no_shows(session, now=now)
    if reminded or lapsed or absent:
        log.info("events: %d reminders, %d offers lapsed, %d no-shows", reminded, lapsed, absent)
    return reminded + lapsed + absent
