"""Presence at an event: check-in by a shared location inside the geo-fence (PostGIS
geography), the venue code where a pin alone proves nothing, a booth agent checking in
a walk-in, no-shows when the event ends, reminders before it, and the live report.

Nothing here commits; notices are outbox effects, sent after the caller's commit.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import notice_templates
from core.config import Settings
from core.i18n import N_, format_moment, use_language
from core.models.events import EventStatus
from core.services import attendance, events


class CheckIn(enum.StrEnum):
    ACCEPTED = "accepted"
    TOO_FAR = "too_far"
    NOT_OPEN = "not_open"
    """Before the window (an hour before the start)."""
    OVER = "over"
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    NOT_REGISTERED = "not_registered"
    ALREADY = "already"
    FORWARDED = "forwarded"
    STALE = "stale"
    """A location older than allowed (by the message's own date)."""
    CODE_WRONG = "code_wrong"
    NOT_ALLOWED = "not_allowed"
    """An agent checking someone in outside their area."""
    NO_SUCH_MEMBER = "no_such_member"


@dataclass(frozen=True, slots=True)
class Checked:
    result: CheckIn
    distance_m: float | None = None
    member_name: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """A shared location, as the channel reported it."""

    latitude: float
    longitude: float
    accuracy_m: float | None = None
    forwarded: bool = False
    sent_at: datetime | None = None


_EVENT = text("""
SELECT e.status, e.start_time, e.end_time, e.walk_ins, e.venue_code_required,
       e.geo_fence_radius AS radius,
       ST_Distance(e.geo_location::geography, p.g) AS distance_m,
       ST_DWithin(e.geo_location::geography, p.g, coalesce(e.geo_fence_radius, 100) + :widen)
         AS inside,
       a.status AS attendee
FROM events e
CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g) p
LEFT JOIN event_attendees a ON a.event_id = e.id AND a.member_id = :m
WHERE e.id = :e
""")
_ATTEND = text("""
WITH attended AS (
INSERT INTO event_attendees (event_id, member_id, status, registered_at, check_in_time,
                             check_in_location, check_in_method, checked_in_by)
VALUES (:e, :m, 'attended', :now, :now, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
        :method, :agent)
ON CONFLICT (event_id, member_id) DO UPDATE
SET status = 'attended', check_in_time = EXCLUDED.check_in_time,
    check_in_location = EXCLUDED.check_in_location, check_in_method = EXCLUDED.check_in_method,
    checked_in_by = EXCLUDED.checked_in_by
WHERE event_attendees.status IN ('registered', 'confirmed')
   OR (:walk_in AND event_attendees.status <> 'attended')
RETURNING member_id
), earned AS (
INSERT INTO member_activities (member_id, activity_type, activity_id, points, metadata)
SELECT member_id, :activity, :e, :points, '{}'::jsonb FROM attended
ON CONFLICT (member_id, activity_type, activity_id) DO NOTHING
)
SELECT member_id FROM attended
""")


def window(start: datetime, end: datetime | None, settings: Settings) -> tuple[datetime, datetime]:
    opens = start - timedelta(minutes=settings.event_checkin_opens_minutes)
    return opens, end or start + events.DEFAULT_LENGTH


async def check_in(
    session: AsyncSession,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    sighting: Sighting,
    *,
    now: datetime,
    settings: Settings,
    code: str | None = None,
    location_proves: bool = True,
) -> Checked:
    """Check a member in by a shared location: inside the check-in window, registered
    (or any member in scope, when the event takes walk-ins), not forwarded or stale,
    within the geo-fence widened by the reported accuracy up to a cap. Where a location
    alone proves nothing (``location_proves`` False: WhatsApp, where a pin can be
    dropped anywhere) an event that requires it needs the current venue ``code`` too.
    Checking in twice is refused; one row changes, under a conditional update."""
    if sighting.forwarded:
        return Checked(CheckIn.FORWARDED)
    max_age = timedelta(seconds=settings.event_location_max_age_seconds)
    if sighting.sent_at is not None and now - sighting.sent_at > max_age:
        return Checked(CheckIn.STALE)
    widen = min(max(sighting.accuracy_m or 0.0, 0.0), float(settings.event_accuracy_cap_m))
    row = (
        await session.execute(
            _EVENT,
            {
                "e": event_id,
                "m": member_id,
                "lat": sighting.latitude,
                "lon": sighting.longitude,
                "widen": widen,
            },
        )
    ).first()
    if row is None:
        return Checked(CheckIn.NOT_FOUND)
    if refused := _refusal(row, now, settings):
        return Checked(refused)
    if row.venue_code_required and not location_proves:
        if code is None or not events.venue_code_ok(settings, event_id, code, now):
            return Checked(CheckIn.CODE_WRONG)
    if not row.inside:
        return Checked(CheckIn.TOO_FAR, float(row.distance_m))
    return await _attend(
        session, event_id, member_id, sighting, now=now, settings=settings,
        method="location" if location_proves else "code", walk_in=bool(row.walk_ins),
        distance_m=float(row.distance_m),
    )  # fmt: skip


def _refusal(row: object, now: datetime, settings: Settings) -> CheckIn | None:
    status = getattr(row, "status")  # noqa: B009
    if status == EventStatus.CANCELLED:
        return CheckIn.CANCELLED
    if status not in events.LIVE:
        return CheckIn.OVER
    opens, closes = window(getattr(row, "start_time"), getattr(row, "end_time"), settings)  # noqa: B009
    if now < opens:
        return CheckIn.NOT_OPEN
    if now > closes:
        return CheckIn.OVER
    attendee = getattr(row, "attendee")  # noqa: B009
    if attendee == "attended":
        return CheckIn.ALREADY
    if attendee not in ("registered", "confirmed") and not getattr(row, "walk_ins"):  # noqa: B009
        return CheckIn.NOT_REGISTERED
    return None


async def _attend(
    session: AsyncSession,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    sighting: Sighting | None,
    *,
    now: datetime,
    settings: Settings,
    method: str,
    walk_in: bool,
    agent: uuid.UUID | None = None,
    distance_m: float | None = None,
) -> Checked:
    done = await session.scalar(
        _ATTEND,
        {
            "e": event_id,
            "m": member_id,
            "now": now,
            "lat": sighting.latitude if sighting else None,
            "lon": sighting.longitude if sighting else None,
            "method": method,
            "agent": agent,
            "walk_in": walk_in,
            "activity": attendance.ATTENDANCE_ACTIVITY,
            "points": settings.event_attendance_points,
        },
    )
    if done is None:  # a second check-in raced this one
        return Checked(CheckIn.ALREADY)
    return Checked(CheckIn.ACCEPTED, distance_m)


_AGENT_AREA = text("""
SELECT EXISTS (
  SELECT 1 FROM member_units mu
  JOIN organization_units mine ON mine.id = mu.unit_id
  JOIN members me ON me.id = mu.member_id
  JOIN events e ON e.id = :e
  JOIN organization_units u ON u.id = e.unit_id
  WHERE mu.member_id = :agent AND mu.position_id IS NOT NULL AND mu.left_at IS NULL
    AND me.status = 'active' AND (mine.path <@ u.path OR mine.path @> u.path))
""")


async def may_check_in_others(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID
) -> bool:
    """Whether the member holds a position in the event's area (a booth agent, any
    official of its unit, a unit below or above), so may check others in."""
    return bool(await session.scalar(_AGENT_AREA, {"e": event_id, "agent": member_id}))


async def walk_in(
    session: AsyncSession,
    event_id: uuid.UUID,
    agent_member_id: uuid.UUID,
    membership_number: str,
    *,
    now: datetime,
    settings: Settings,
) -> Checked:
    """A booth agent (any official of the event's unit, a unit below or above) checks
    in a member by membership number, registered or not, inside the window."""
    if not await may_check_in_others(session, event_id, agent_member_id):
        return Checked(CheckIn.NOT_ALLOWED)
    member = (
        await session.execute(
            text(
                "SELECT id, first_name, last_name FROM members"
                " WHERE membership_number = :n AND status = 'active'"
            ),
            {"n": membership_number.strip().upper()},
        )
    ).first()
    if member is None:
        return Checked(CheckIn.NO_SUCH_MEMBER)
    name = " ".join(p for p in (member.first_name, member.last_name) if p)
    row = (
        await session.execute(
            text(
                "SELECT e.status, e.start_time, e.end_time, true AS walk_ins, a.status AS attendee"
                " FROM events e LEFT JOIN event_attendees a"
                " ON a.event_id = e.id AND a.member_id = :m WHERE e.id = :e"
            ),
            {"e": event_id, "m": member.id},
        )
    ).first()
    if row is None:
        return Checked(CheckIn.NOT_FOUND)
    if refused := _refusal(row, now, settings):
        return Checked(refused, member_name=name)
    checked = await _attend(
        session, event_id, member.id, None, now=now, settings=settings, method="agent",
        walk_in=True, agent=agent_member_id,
    )  # fmt: skip
    return Checked(checked.result, member_name=name)


async def mark_ongoing(session: AsyncSession, *, now: datetime) -> int:
    """Published events whose start has come (and whose end has not) are ongoing."""
    result = await session.execute(
        text(
            "UPDATE events SET status = 'ongoing', updated_at = :now"
            " WHERE status = 'published' AND start_time <= :now AND end_time > :now"
        ),
        {"now": now},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_no_shows(session: AsyncSession, *, now: datetime) -> int:
    """Events that have ended: registered members who never checked in become no-shows,
    waiting ones are cancelled, and the event is completed."""
    ended = list(
        await session.scalars(
            text(
                "UPDATE events SET status = 'completed', updated_at = :now"
                " WHERE status IN ('published', 'ongoing') AND end_time <= :now RETURNING id"
            ),
            {"now": now},
        )
    )
    if not ended:
        return 0
    result = await session.execute(
        text(
            "UPDATE event_attendees SET status = CASE WHEN status = 'waitlisted'"
            " THEN CAST('cancelled' AS attendance_status) ELSE 'no_show' END,"
            " offered_until = NULL"
            " WHERE event_id = ANY(:ids) AND status IN ('registered', 'confirmed', 'waitlisted')"
        ),
        {"ids": ended},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- reminders -------------------------------------------------------------------------

REMINDER = N_("Reminder: {title} on {when} at {venue}. See you there.")
_DUE = text("""
UPDATE event_attendees a SET reminded_minutes = a.reminded_minutes || CAST(:all AS integer[])
FROM events e
WHERE e.id = a.event_id AND e.status IN ('published', 'ongoing')
  AND a.status IN ('registered', 'confirmed')
  AND e.start_time > :now AND e.start_time - make_interval(mins => :offset) <= :now
  AND NOT (:offset = ANY(a.reminded_minutes))
RETURNING a.event_id, a.member_id
""")


async def send_reminders(session: AsyncSession, *, now: datetime, settings: Settings) -> int:
    """Each reminder offset (``event_reminder_minutes``) once per registered member:
    the row is marked as it is picked (one statement), so a rerun or a second worker
    sends nothing twice; a cancelled event or place is never reminded. When the event
    is already nearer than a longer offset, only the nearest one due is sent."""
    offsets = sorted({m for m in settings.event_reminder_minutes if m > 0})
    sent = 0
    for n, offset in enumerate(offsets):  # the nearest first; it marks the longer ones
        rows = (
            await session.execute(_DUE, {"now": now, "offset": offset, "all": offsets[n:]})
        ).all()
        for event_id, member_id in rows:
            sent += await _remind(session, event_id, member_id, now=now)
    return sent


async def _remind(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID, *, now: datetime
) -> int:
    event = await session.get(events.Event, event_id)
    assert event is not None
    language = await attendance._language(session, member_id)
    with use_language(language):
        when = format_moment(event.start_time)
    return int(
        await events.tell(
            session, member_id, REMINDER, now=now, template=notice_templates.EVENT_REMINDER,
            title=events.event_title(event, language), when=when, venue=event.venue_name or "-",
        )
    )  # fmt: skip


# --- the live report -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitCount:
    code: str
    name: str
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    status: str
    capacity: int | None
    counts: dict[str, int]
    by_unit: list[UnitCount] = field(default_factory=list)


_BY_UNIT = text("""
SELECT coalesce(child.code, '-') AS code, coalesce(child.name, '-') AS name,
       a.status::text AS status, count(DISTINCT a.member_id) AS n
FROM event_attendees a
JOIN events e ON e.id = a.event_id
JOIN organization_units top ON top.id = e.unit_id
LEFT JOIN LATERAL (
  SELECT u.code, u.name FROM member_units mu JOIN organization_units mine ON mine.id = mu.unit_id
  JOIN organization_units u ON u.path = subpath(mine.path, 0, nlevel(top.path) + 1)
  WHERE mu.member_id = a.member_id AND mu.left_at IS NULL AND mine.path <@ top.path
    AND nlevel(mine.path) > nlevel(top.path)
  ORDER BY mu.is_primary DESC NULLS LAST LIMIT 1
) child ON true
WHERE a.event_id = :e
GROUP BY 1, 2, 3
ORDER BY 1
""")


async def report(session: AsyncSession, event_id: uuid.UUID) -> Report | None:
    """Registered, waiting, checked in and no-show, overall and by the units just
    below the event's unit."""
    event = await session.get(events.Event, event_id, populate_existing=True)
    if event is None:
        return None
    totals: dict[str, int] = {}
    units: dict[str, UnitCount] = {}
    for code, name, status, n in (await session.execute(_BY_UNIT, {"e": event_id})).all():
        totals[status] = totals.get(status, 0) + int(n)
        units.setdefault(code, UnitCount(code, name, {})).counts[status] = int(n)
    return Report(
        title=event.title,
        status=str(event.status),
        capacity=event.max_attendees,
        counts=totals,
        by_unit=list(units.values()),
    )
