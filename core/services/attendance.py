"""Who comes to an event: RSVP with an exact capacity and a waitlist, a freed place
offered to the first waiting member, and the capacity notices to officials.

Every change of an event's places happens under that event's row lock
(``SELECT … FOR UPDATE``), so 1,000 simultaneous yeses for 100 places give exactly 100
registered and 900 waiting, in the order the lock was granted — which is their arrival
order at the database. ``registered_at`` is set from ``clock_timestamp()`` under the
lock, so the waitlist is read in that order.

Check-in, walk-ins, no-shows and reminders: :mod:`core.services.checkin`. Nothing here
commits; notices are outbox effects, sent after the caller's commit.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.i18n import N_, Language
from core.models.events import AttendanceStatus, Event, EventAttendee, EventStatus
from core.services import events

GOING = (AttendanceStatus.REGISTERED, AttendanceStatus.CONFIRMED, AttendanceStatus.ATTENDED)
RSVP_ACTIVITY = "event_rsvp"
ATTENDANCE_ACTIVITY = "event_attendance"


class Rsvp(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    ALREADY_REGISTERED = "already_registered"
    ALREADY_WAITLISTED = "already_waitlisted"
    DECLINED = "declined"
    PLACE_GIVEN_UP = "place_given_up"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    """The event is cancelled."""
    CLOSED = "closed"
    """The RSVP deadline (or the start) has passed, or the event is over."""
    NOT_INVITED = "not_invited"


@dataclass(frozen=True, slots=True)
class Answered:
    result: Rsvp
    position: int | None = None
    """Place on the waitlist (1 = next), when waiting."""


_TAKEN = text("""
SELECT count(*) FROM event_attendees
WHERE event_id = :e AND (status IN ('registered', 'confirmed', 'attended')
      OR (status = 'waitlisted' AND offered_until > :now))
""")
_POSITION = text("""
SELECT count(*) FROM event_attendees w, event_attendees me
WHERE me.event_id = :e AND me.member_id = :m AND w.event_id = :e
  AND w.status = 'waitlisted' AND w.registered_at <= me.registered_at
""")
_ACTIVITY = text("""
INSERT INTO member_activities (member_id, activity_type, activity_id, points, metadata)
VALUES (:m, :type, :e, :points, '{}'::jsonb)
ON CONFLICT (member_id, activity_type, activity_id) DO NOTHING
""")


LOCK_WAIT = "15s"
"""How long an answer may queue for the event's row: a burst of thousands of yeses
queues there (one short turn each), and must not fail on the process's usual 3 s lock
and 5 s statement timeouts; Twilio waits 15 s for the webhook."""


async def lock(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    """The event, its row locked until the transaction ends."""
    await session.execute(
        text(
            "SELECT set_config('lock_timeout', :wait, true),"
            " set_config('statement_timeout', :wait, true)"
        ),
        {"wait": LOCK_WAIT},
    )
    return await session.get(Event, event_id, with_for_update=True, populate_existing=True)


async def record_activity(
    session: AsyncSession, member_id: uuid.UUID, kind: str, event_id: uuid.UUID, points: int
) -> None:
    """A ``member_activities`` row, once per member, kind and event."""
    await session.execute(
        _ACTIVITY, {"m": member_id, "type": kind, "e": event_id, "points": points}
    )


async def _row(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID
) -> EventAttendee | None:
    return await session.scalar(
        select(EventAttendee)
        .where(EventAttendee.event_id == event_id, EventAttendee.member_id == member_id)
        .execution_options(populate_existing=True)
    )


def closed(event: Event, now: datetime) -> Rsvp | None:
    """Why an RSVP is refused now, if it is."""
    if event.status is EventStatus.CANCELLED:
        return Rsvp.CANCELLED
    if event.status not in events.LIVE:
        return Rsvp.CLOSED
    deadline = event.registration_deadline or event.start_time
    if now >= deadline:
        return Rsvp.CLOSED
    return None


async def position(session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID) -> int:
    return int(await session.scalar(_POSITION, {"e": event_id, "m": member_id}) or 0)


_PLACE = text("""
WITH counted AS (
  SELECT count(*) FILTER (WHERE status IN ('registered', 'confirmed', 'attended')) AS going,
         count(*) FILTER (WHERE status = 'waitlisted' AND offered_until > :now) AS held,
         count(*) FILTER (WHERE status = 'waitlisted') AS waiting
  FROM event_attendees WHERE event_id = :e
), placed AS (
  INSERT INTO event_attendees (event_id, member_id, status, registered_at)
  SELECT :e, :m,
         CAST(CASE WHEN CAST(:capacity AS integer) IS NULL
                     OR going + held < CAST(:capacity AS integer)
                   THEN 'registered' ELSE 'waitlisted' END AS attendance_status),
         clock_timestamp()
  FROM counted
  ON CONFLICT (event_id, member_id) DO UPDATE
  SET status = EXCLUDED.status, registered_at = EXCLUDED.registered_at, offered_until = NULL,
      notes = NULL
  RETURNING member_id, status
), earned AS (
  INSERT INTO member_activities (member_id, activity_type, activity_id, points, metadata)
  SELECT member_id, :type, :e, :points, '{}'::jsonb FROM placed
  ON CONFLICT (member_id, activity_type, activity_id) DO NOTHING
)
SELECT placed.status::text AS status, counted.going, counted.waiting FROM placed, counted
""")
"""Under the event's lock, in one statement: count the places, give one or a place in
line, and the RSVP's points (once)."""


async def yes(
    session: AsyncSession,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    now: datetime,
    settings: Settings,
) -> Answered:
    """The member will come: a place while there is one, else the end of the waitlist.
    A waiting member who was offered a freed place takes it.

    What does not change under other members' answers is read first (a member's own
    row changes only with their own answers); under the event's row lock come two
    statements: the lock, then the count, the place and its points in one — a new
    statement, so it sees every place given by whoever held the lock before. Then the
    commit. That is the section 1,000 simultaneous yeses queue for."""
    event = await session.get(Event, event_id)
    if event is None:
        return Answered(Rsvp.NOT_FOUND)
    if refused := closed(event, now):
        return Answered(refused)
    if not await events.invited(session, event, member_id):
        return Answered(Rsvp.NOT_INVITED)
    row = await _row(session, event_id, member_id)
    if row is not None and row.status in GOING:
        return Answered(Rsvp.ALREADY_REGISTERED)
    offered = row is not None and row.status is AttendanceStatus.WAITLISTED
    if offered and (row.offered_until is None or row.offered_until <= now):  # type: ignore[union-attr]
        return Answered(Rsvp.ALREADY_WAITLISTED, await position(session, event_id, member_id))
    event = await lock(session, event_id)  # its status and capacity as of the lock
    assert event is not None  # events are cancelled, never deleted
    if refused := closed(event, now):
        return Answered(refused)
    if offered:  # the place held for them (unless it lapsed while they waited)
        row = await _row(session, event_id, member_id)
        assert row is not None
        if row.status is not AttendanceStatus.WAITLISTED or not row.offered_until:
            return Answered(Rsvp.ALREADY_WAITLISTED, await position(session, event_id, member_id))
        row.status, row.offered_until = AttendanceStatus.REGISTERED, None
        await session.flush()
        await _capacity_notices(session, event, now=now)
        return Answered(Rsvp.REGISTERED)
    placed = (
        await session.execute(
            _PLACE,
            {
                "e": event_id,
                "m": member_id,
                "now": now,
                "capacity": event.max_attendees,
                "type": RSVP_ACTIVITY,
                "points": settings.event_rsvp_points,
            },
        )
    ).one()
    if placed.status == AttendanceStatus.WAITLISTED.value:
        return Answered(Rsvp.WAITLISTED, placed.waiting + 1)  # last in line, under the lock
    if event.max_attendees and _level(placed.going + 1, event.max_attendees) > (
        event.capacity_notified
    ):
        await _capacity_notices(session, event, now=now)
    return Answered(Rsvp.REGISTERED)


def _level(going: int, capacity: int) -> int:
    return 100 if going >= capacity else 80 if going * 5 >= capacity * 4 else 0


async def no(
    session: AsyncSession,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    now: datetime,
    settings: Settings,
) -> Answered:
    """The member will not come (or gives up the place they had): a place they held
    goes to the first waiting member."""
    event = await lock(session, event_id)
    if event is None:
        return Answered(Rsvp.NOT_FOUND)
    if event.status is EventStatus.CANCELLED:
        return Answered(Rsvp.CANCELLED)
    if event.status not in events.LIVE or now >= event.start_time:
        return Answered(Rsvp.CLOSED)
    row = await _row(session, event_id, member_id)
    if row is None:
        if not await events.invited(session, event, member_id):
            return Answered(Rsvp.NOT_INVITED)
        session.add(
            EventAttendee(
                event_id=event_id,
                member_id=member_id,
                status=AttendanceStatus.CANCELLED,
                notes="declined",
            )
        )
        await session.flush()
        return Answered(Rsvp.DECLINED)
    if row.status not in (*GOING, AttendanceStatus.WAITLISTED) or (
        row.status is AttendanceStatus.ATTENDED
    ):
        return Answered(Rsvp.NOTHING_TO_CANCEL)
    held_place = row.status in GOING or (row.offered_until is not None and row.offered_until > now)
    row.status, row.offered_until, row.notes = AttendanceStatus.CANCELLED, None, "gave up"
    await session.flush()
    if held_place:
        await offer_next(session, event, now=now, settings=settings)
    return Answered(Rsvp.PLACE_GIVEN_UP)


OFFER_NOTICE = N_("A place is free for {title}. To take it, reply 1 within {minutes} minutes.")


async def offer_next(
    session: AsyncSession, event: Event, *, now: datetime, settings: Settings
) -> int:
    """Offer each free place to the first member waiting without an offer, for
    ``event_offer_confirm_minutes``; they are told. Call under the event's lock."""
    if event.max_attendees is None or event.status not in events.LIVE:
        return 0
    taken = int(await session.scalar(_TAKEN, {"e": event.id, "now": now}) or 0)
    free = event.max_attendees - taken
    if free <= 0:
        return 0
    until = now + timedelta(minutes=settings.event_offer_confirm_minutes)
    offered = list(
        await session.scalars(
            text(
                "UPDATE event_attendees SET offered_until = :until WHERE id IN ("
                " SELECT id FROM event_attendees WHERE event_id = :e AND status = 'waitlisted'"
                " AND offered_until IS NULL ORDER BY registered_at LIMIT :free)"
                " RETURNING member_id"
            ),
            {"e": event.id, "until": until, "free": free},
        )
    )
    for member_id in offered:
        language = await _language(session, member_id)
        await events.tell(
            session,
            member_id,
            OFFER_NOTICE,
            now=now,
            title=events.event_title(event, language),
            minutes=str(settings.event_offer_confirm_minutes),
        )
    return len(offered)


async def expire_offers(session: AsyncSession, *, now: datetime, settings: Settings) -> int:
    """Offers not taken in time pass to the next waiting member; the member who let it
    lapse leaves the waitlist. How many lapsed."""
    event_ids = list(
        await session.scalars(
            text(
                "SELECT DISTINCT event_id FROM event_attendees"
                " WHERE status = 'waitlisted' AND offered_until <= :now"
            ),
            {"now": now},
        )
    )
    lapsed = 0
    for event_id in event_ids:
        event = await lock(session, event_id)
        if event is None:
            continue
        result = await session.execute(
            text(
                "UPDATE event_attendees SET status = 'cancelled', offered_until = NULL,"
                " notes = 'offer lapsed' WHERE event_id = :e AND status = 'waitlisted'"
                " AND offered_until <= :now"
            ),
            {"e": event_id, "now": now},
        )
        lapsed += result.rowcount  # type: ignore[attr-defined]
        await offer_next(session, event, now=now, settings=settings)
    return lapsed


async def _language(session: AsyncSession, member_id: uuid.UUID) -> str:
    found = await session.scalar(
        text("SELECT language FROM members WHERE id = :m"), {"m": member_id}
    )
    return found or Language.TAMIL.value


CAPACITY_NOTICE = N_("{title}: {count} of {capacity} places are taken ({percent}%).")


async def _capacity_notices(session: AsyncSession, event: Event, *, now: datetime) -> None:
    """Tell the event's officials when 80 % and when 100 % of its places are taken, once
    each. Under the event's lock."""
    if not event.max_attendees:
        return
    count = int(
        await session.scalar(
            text(
                "SELECT count(*) FROM event_attendees WHERE event_id = :e"
                " AND status IN ('registered', 'confirmed', 'attended')"
            ),
            {"e": event.id},
        )
        or 0
    )
    level = _level(count, event.max_attendees)
    if level <= event.capacity_notified:
        return
    event.capacity_notified = level
    await session.flush()
    for official in await event_officials(session, event):
        language = await _language(session, official)
        await events.tell(
            session,
            official,
            CAPACITY_NOTICE,
            now=now,
            title=events.event_title(event, language),
            count=str(count),
            capacity=str(event.max_attendees),
            percent=str(level),
        )


async def event_officials(session: AsyncSession, event: Event) -> list[uuid.UUID]:
    """Who answers for the event: its creator and the officials who may call events at
    its own unit."""
    rows = await session.scalars(
        text(
            "SELECT DISTINCT mu.member_id FROM member_units mu"
            " JOIN positions p ON p.id = mu.position_id"
            " JOIN members m ON m.id = mu.member_id"
            " WHERE mu.unit_id = :unit AND mu.left_at IS NULL AND m.status = 'active'"
            " AND p.permissions ? :permission"
        ),
        {"unit": event.unit_id, "permission": events.EVENTS},
    )
    found = list(rows)
    if event.created_by is not None and event.created_by not in found:
        found.insert(0, event.created_by)
    return found
