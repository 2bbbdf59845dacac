"""An event's invitation carries its answers, and an answer finds its invitation.

The invitation (core/services/events.py ``publish``) goes through the announcement
fan-out; notifier/senders.py renders its two answers on each channel:

- Telegram: inline buttons whose callback data names the event,
  ``rsvp:<event id as 32 hex digits>:y`` or ``…:n`` (39 bytes; Telegram allows 64);
- WhatsApp: quick replies ``rsvp:y`` and ``rsvp:n`` — inside the 24-hour window as the
  bot's own quick replies, outside it as the approved ``event_invitation`` template's
  buttons. The same two for every event (a quick-reply content is kept by Twilio for
  good, and a template is approved once), so the tap names no event: Twilio's inbound
  webhook names the message it was on (``OriginalRepliedMessageSid``), which is the
  delivery row's ``provider_message_id``, whose announcement is the event's;
- SMS: the ``event_invitation`` DLT template ends "வருவீர்களா? 1 = வருவேன், 2 = இல்லை".

A typed answer ("1", "ஆம்", "வர முடியாது") with no question pending names nothing: it
answers the member's latest invitation they have not answered, of an event not yet
over (:func:`latest`, one statement). The answer itself is the RSVP of
core.services.attendance: capacity, waitlist, deadline and a double tap as always.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Choice
from core.config import Settings
from core.i18n import N_, Language, in_language
from core.services import attendance

PREFIX = "rsvp:"
YES, NO = "y", "n"
# TRANSLATORS: a button under an event's invitation: at most 17 characters.
COME = N_("I'll come")
# TRANSLATORS: a button under an event's invitation: at most 17 characters.
CANNOT_COME = N_("Can't come")


@dataclass(frozen=True, slots=True)
class Tap:
    """A press on an invitation's button: yes or no, and the event when it names one."""

    coming: bool
    event_id: uuid.UUID | None = None


def choice_id(coming: bool, event_id: uuid.UUID | None = None) -> str:
    answer = YES if coming else NO
    return f"{PREFIX}{event_id.hex}:{answer}" if event_id else f"{PREFIX}{answer}"


def choices(language: Language | str, event_id: uuid.UUID | None = None) -> tuple[Choice, ...]:
    """The invitation's two answers in ``language``; on Telegram they name the event."""
    return (
        Choice(choice_id(True, event_id), in_language(language, COME)),
        Choice(choice_id(False, event_id), in_language(language, CANNOT_COME)),
    )


def is_tap(choice: str | None) -> bool:
    """Whether a button payload is an invitation's (it names its own invitation, so it
    is never stale: bot/asked.py)."""
    return choice is not None and choice.startswith(PREFIX)


def parse_tap(choice: str | None) -> Tap | None:
    """The tap a payload is; None for any other payload, or a malformed one."""
    if not choice or not choice.startswith(PREFIX):
        return None
    named, _sep, answer = choice.removeprefix(PREFIX).rpartition(":")
    if answer not in (YES, NO):
        return None
    event_id = None
    if named:
        if len(named) != 32:
            return None
        try:
            event_id = uuid.UUID(hex=named)
        except ValueError:
            return None
    return Tap(answer == YES, event_id)


# --- which invitation an answer is to --------------------------------------------------

_LATEST = """
SELECT event_id, sent_at FROM (
  (SELECT a.event_id, a.offered_until - make_interval(mins => $4) AS sent_at, 0 AS rank
   FROM events e JOIN event_attendees a ON a.event_id = e.id AND a.member_id = $1
   WHERE NOT $3 AND e.announcement_id IS NOT NULL AND e.end_time > $2
     AND a.status = 'waitlisted' AND a.offered_until > $2
   ORDER BY a.offered_until LIMIT 1)
  UNION ALL
  (SELECT e.id, d.sent_at, 1
   FROM events e
   JOIN announcement_deliveries d ON d.announcement_id = e.announcement_id AND d.member_id = $1
   WHERE e.announcement_id IS NOT NULL AND e.end_time > $2
     AND d.status IN ('sent', 'delivered', 'read')
     AND ($3 OR NOT EXISTS (SELECT FROM event_attendees a WHERE a.event_id = e.id
                                                           AND a.member_id = $1))
   ORDER BY d.sent_at DESC NULLS LAST, e.start_time, e.id LIMIT 1)
) found
ORDER BY rank
LIMIT 1
"""
"""The member's latest invitation (sent or delivered) to an event not yet over: the
events not over are a short range of ``idx_events_invitations``, each joined to the
member's delivery row by its primary key. Before it, a freed place offered to the member
(waitlisted, its offer open: attendance.offer_next), "sent" when it was offered. A
cancelled event, or one past its RSVP deadline, is found too: the answer then says so."""

_REPLIED = text("""
SELECT e.id FROM announcement_deliveries d
JOIN events e ON e.announcement_id = d.announcement_id
WHERE d.provider = :provider AND d.provider_message_id = :pmid AND d.member_id = :m
LIMIT 1
""")


@dataclass(frozen=True, slots=True)
class Found:
    event_id: uuid.UUID
    sent_at: datetime | None


async def latest(
    pg: Any,
    member_id: uuid.UUID,
    *,
    now: datetime,
    offer_minutes: int,
    answered: bool = False,
) -> Found | None:
    """The member's latest invitation to an event not yet over; unless ``answered``,
    a place offered to them (``offer_minutes`` to take it) first, else an invitation
    they have not answered (yes, no, or waiting). One query on the driver connection
    ``pg`` (asyncpg): a member at the menu typing 1 or 2 asks it every time."""
    row = await pg.fetchrow(_LATEST, member_id, now, answered, offer_minutes)
    return None if row is None else Found(row["event_id"], row["sent_at"])


async def replied_to(
    session: AsyncSession, member_id: uuid.UUID, provider: str, message_id: str | None
) -> uuid.UUID | None:
    """The event whose invitation is the provider's message ``message_id`` (the message
    a WhatsApp button was on), when it was sent to this member."""
    if not message_id:
        return None
    return await session.scalar(  # type: ignore[no-any-return]
        _REPLIED, {"provider": provider, "pmid": message_id, "m": member_id}
    )


async def answer(
    session: AsyncSession,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    coming: bool,
    now: datetime,
    settings: Settings,
) -> attendance.Answered:
    """The member's yes or no to the event, as the events flow takes it."""
    said = attendance.yes if coming else attendance.no
    return await said(session, event_id, member_id, now=now, settings=settings)
