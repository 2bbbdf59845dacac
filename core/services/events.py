"""Events: an official calls a meeting of their own unit or a unit below it, invites its
members through the announcement fan-out, moves or cancels it, and watches it live.

Attendance (RSVP, the waitlist, check-in, reminders) is in
:mod:`core.services.attendance`. None of these functions commits: the caller does, and
the notices they write are outbox effects (core/effects.py), sent after the commit.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import bharatpin
from geoalchemy2 import WKTElement
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import announcements, effects, notice_templates, places
from core.config import Settings
from core.i18n import INDIA, N_, Language, format_moment, in_language, local_name, use_language
from core.models import OrganizationUnit
from core.models.events import Event, EventStatus, EventType
from core.services import officials

EVENTS = officials.ANNOUNCE
"""Who may call an event: an official who may announce to the unit may call its members."""
TITLE_MAX = 255
MAX_CAPACITY = 1_000_000
DEFAULT_LENGTH = timedelta(hours=3)
"""An event given no end lasts this long (check-in closes then)."""
LIVE = (EventStatus.PUBLISHED, EventStatus.ONGOING)


class Refusal(enum.StrEnum):
    UNIT_NOT_FOUND = "unit_not_found"
    NOT_ALLOWED = "not_allowed"
    """The official may not call events for that unit (above or beside their own)."""
    NO_TITLE = "no_title"
    NO_TIMEZONE = "no_timezone"
    IN_PAST = "in_past"
    TOO_FAR_AHEAD = "too_far_ahead"
    END_BEFORE_START = "end_before_start"
    BAD_DEADLINE = "bad_deadline"
    BAD_RADIUS = "bad_radius"
    BAD_CAPACITY = "bad_capacity"
    NO_VENUE = "no_venue"
    OUTSIDE_TAMIL_NADU = "outside_tamil_nadu"
    BOOTH_NOT_FOUND = "booth_not_found"
    PIN_NOT_FOUND = "pin_not_found"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Venue:
    latitude: float
    longitude: float
    name: str | None = None


# --- where -----------------------------------------------------------------------------


def pin_centre(pin: str) -> Venue | None:
    """The centre of a Tamil Nadu PIN code: the mean of its post offices' coordinates."""
    if places.district_code_for_pincode(pin) is None:
        return None
    points = [
        (float(o["latitude"]), float(o["longitude"]))
        for o in bharatpin.get_offices(pin.strip())
        if o.get("latitude") and o.get("longitude")
    ]
    if not points:
        return None
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    return Venue(lat, lon, pin.strip())


async def booth_venue(session: AsyncSession, code: str) -> Venue | None:
    """A booth's (or any unit's) centre point, named after it."""
    row = (
        await session.execute(
            text(
                "SELECT name, ST_Y(center_point) AS lat, ST_X(center_point) AS lon"
                " FROM organization_units WHERE code = :code AND center_point IS NOT NULL"
            ),
            {"code": code.strip().upper()},
        )
    ).first()
    return None if row is None else Venue(float(row.lat), float(row.lon), row.name)


def point(latitude: float, longitude: float) -> WKTElement:
    return WKTElement(f"POINT({longitude} {latitude})", srid=4326)


# --- creating --------------------------------------------------------------------------


def check_times(
    start: datetime, end: datetime | None, deadline: datetime | None, now: datetime
) -> Refused | None:
    if start.tzinfo is None or (end and end.tzinfo is None) or (deadline and not deadline.tzinfo):
        return Refused(Refusal.NO_TIMEZONE)
    if start <= now:
        return Refused(Refusal.IN_PAST)
    if start > now + timedelta(days=366):
        return Refused(Refusal.TOO_FAR_AHEAD)
    if end is not None and end <= start:
        return Refused(Refusal.END_BEFORE_START)
    if deadline is not None and not (now < deadline <= start):
        return Refused(Refusal.BAD_DEADLINE)
    return None


def check_numbers(radius: int, capacity: int | None, settings: Settings) -> Refused | None:
    low, high = settings.event_radius_min_m, settings.event_radius_max_m
    if not low <= radius <= high:
        return Refused(Refusal.BAD_RADIUS, f"{low}-{high}")
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        return Refused(Refusal.BAD_CAPACITY)
    return None


async def allowed_unit(
    session: AsyncSession, official_member_id: uuid.UUID | None, unit_code: str
) -> OrganizationUnit | Refused:
    """The active unit ``unit_code`` when the official may call events there (their own
    unit or one below it); ``None`` is the operator at the console, allowed anywhere."""
    unit = await officials.active_unit(session, unit_code)
    if unit is None:
        return Refused(Refusal.UNIT_NOT_FOUND, unit_code)
    if not await officials.may_act(session, official_member_id, (EVENTS,), unit.path):
        return Refused(Refusal.NOT_ALLOWED, unit.code)
    return unit


async def create(
    session: AsyncSession,
    *,
    official_member_id: uuid.UUID | None,
    unit_code: str,
    title: str,
    type: EventType,
    start: datetime,
    venue: Venue | None,
    now: datetime,
    settings: Settings,
    title_ta: str | None = None,
    end: datetime | None = None,
    venue_name: str | None = None,
    radius_m: int = 100,
    capacity: int | None = None,
    deadline: datetime | None = None,
    venue_code_required: bool = False,
    walk_ins: bool = False,
    request_key: str | None = None,
) -> Event | Refused:
    """A draft event, checked: in the official's scope, in the future, end after start,
    a sane geo-fence and capacity, a venue in Tamil Nadu. A ``request_key`` used before
    returns the event made with it (a double tap makes one event)."""
    if request_key is not None:
        earlier = await session.scalar(select(Event).where(Event.request_key == request_key))
        if earlier is not None:
            return earlier
    unit = await allowed_unit(session, official_member_id, unit_code)
    if isinstance(unit, Refused):
        return unit
    title = (title or "").strip()
    title_ta = (title_ta or "").strip() or None
    if not (title or title_ta):
        return Refused(Refusal.NO_TITLE)
    refused = check_times(start, end, deadline, now) or check_numbers(radius_m, capacity, settings)
    if refused:
        return refused
    if venue is None:
        return Refused(Refusal.NO_VENUE)
    if not places.in_tamil_nadu(venue.latitude, venue.longitude):
        return Refused(Refusal.OUTSIDE_TAMIL_NADU)
    event = Event(
        title=(title or title_ta or "")[:TITLE_MAX],
        title_ta=title_ta[:TITLE_MAX] if title_ta else None,
        type=type,
        unit_id=unit.id,
        created_by=official_member_id,
        start_time=start,
        end_time=end or start + DEFAULT_LENGTH,
        venue_name=(venue_name or venue.name or "")[:255] or None,
        geo_location=point(venue.latitude, venue.longitude),
        geo_fence_radius=radius_m,
        max_attendees=capacity,
        registration_required=capacity is not None,
        registration_deadline=deadline,
        status=EventStatus.DRAFT,
        venue_code_required=venue_code_required,
        walk_ins=walk_ins,
        request_key=request_key,
    )
    session.add(event)
    await session.flush()
    return event


# --- telling people -------------------------------------------------------------------


def event_title(event: Event, language: Language | str) -> str:
    return local_name(event.title, event.title_ta, language)


def describe(event: Event, language: Language | str) -> str:
    """Title, time and venue, in ``language`` (Tamil dates in Tamil)."""
    with use_language(language):
        when = format_moment(event.start_time)
    lines = [event_title(event, language), when]
    if event.venue_name:
        lines.append(event.venue_name)
    return "\n".join(lines)


# TRANSLATORS: ends an event's invitation; its two answers follow as buttons.
INVITATION = N_("Will you come?")
INVITATION_TEMPLATE = "event_invitation"
"""The templates the invitation goes as (migration 0016): by SMS its text offers 1 and
2; on WhatsApp outside the window it carries the two answers as buttons."""


async def publish(
    session: AsyncSession, event: Event, *, now: datetime, settings: Settings
) -> announcements.Created | announcements.Refused:
    """Publish a draft: its invitation goes to every active member of its unit and the
    units below through the announcement fan-out, each in their language and on their
    channel, with the answers they can give straight from it (yes, no:
    core/services/invitations.py). The caller schedules the announcement's publish
    after the commit."""
    if event.status is not EventStatus.DRAFT and event.announcement_id is not None:
        made = await session.get(announcements.Announcement, event.announcement_id)
        assert made is not None and made.publish_at is not None
        unit = await session.get(OrganizationUnit, event.unit_id)
        assert unit is not None
        return announcements.Created(made.id, unit.code, unit.path, made.publish_at, None, None)
    unit = await session.get(OrganizationUnit, event.unit_id)
    assert unit is not None

    def body(language: Language) -> str:
        return describe(event, language) + "\n\n" + in_language(language, INVITATION)

    result = await announcements.create(
        session,
        official_member_id=None,  # the event's own scope check was made when it was created
        unit_code=unit.code,
        title=event.title,
        content=body(Language.ENGLISH),
        title_ta=event.title_ta or event.title,
        content_ta=body(Language.TAMIL),
        sms_text=None,
        now=now,
        settings=settings,
        expires_at=event.start_time,
        template_name=INVITATION_TEMPLATE,
        request_key=f"event:{event.id}",
    )
    if isinstance(result, announcements.Created):
        event.status = EventStatus.PUBLISHED
        event.announcement_id = result.announcement_id
        await session.flush()
    return result


async def tell(
    session: AsyncSession,
    member_id: uuid.UUID,
    message: str,
    *,
    now: datetime,
    template: str | None = None,
    **fields: str,
) -> bool:
    """Queue ``message`` (an untranslated sentence, filled with ``fields``) to a member in
    their language, on the channel they can be reached on now; False when they cannot.
    ``template``: the WhatsApp utility template (core/notice_templates.py) it goes as,
    with the same ``fields``, when the member's WhatsApp window is closed."""
    language = await session.scalar(
        text("SELECT language FROM members WHERE id = :m"), {"m": member_id}
    )
    language = language or Language.TAMIL.value
    reply = in_language(language, message).format(**fields)
    named = notice_templates.Named(template, dict(fields)) if template else None
    payload = await notice_templates.notice(
        session, member_id, reply, language=language, now=now, template=named
    )
    if payload is None:
        return False
    await effects.record_soon(session, effects.Kind.NOTICE, payload, now=now)
    return True


async def _people_going(session: AsyncSession, event_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        text(
            "SELECT member_id FROM event_attendees WHERE event_id = :e"
            " AND status IN ('registered', 'confirmed', 'waitlisted')"
        ),
        {"e": event_id},
    )
    return list(rows)


CANCELLED_NOTICE = N_("{title} on {when} is cancelled. Sorry for the trouble.")
MOVED_NOTICE = N_("{title} has moved to {when}. Your place is kept.")


async def cancel(session: AsyncSession, event: Event, *, now: datetime) -> int:
    """Cancel an event; everyone who said yes (or waits) is told. How many were told."""
    if event.status in (EventStatus.CANCELLED, EventStatus.COMPLETED):
        return 0
    event.status = EventStatus.CANCELLED
    if event.announcement_id is not None:  # invitations not yet sent stay unsent
        await announcements.cancel(session, event.announcement_id, now=now)
    await session.flush()
    return await _tell_everyone_going(session, event, CANCELLED_NOTICE, now=now)


async def move(
    session: AsyncSession,
    event: Event,
    *,
    start: datetime,
    end: datetime | None,
    now: datetime,
) -> int | Refused:
    """Move an event to a new time; those who said yes are told. Reminders go again at
    the new time's offsets."""
    if event.status not in LIVE and event.status is not EventStatus.DRAFT:
        return Refused(Refusal.IN_PAST, str(event.status))
    refused = check_times(start, end, None, now)
    if refused:
        return refused
    length = (event.end_time or event.start_time + DEFAULT_LENGTH) - event.start_time
    event.start_time, event.end_time = start, end or start + length
    if event.registration_deadline and event.registration_deadline > start:
        event.registration_deadline = start
    await session.execute(
        text("UPDATE event_attendees SET reminded_minutes = '{}' WHERE event_id = :e"),
        {"e": event.id},
    )
    await session.flush()
    return await _tell_everyone_going(session, event, MOVED_NOTICE, now=now)


async def _tell_everyone_going(
    session: AsyncSession, event: Event, message: str, *, now: datetime
) -> int:
    """Tell everyone who said yes (or waits) about ``event``; how many were told."""
    told = 0
    for member_id in await _people_going(session, event.id):
        told += await _tell_about(session, event, member_id, message, now=now)
    return told


async def _tell_about(
    session: AsyncSession, event: Event, member_id: uuid.UUID, message: str, *, now: datetime
) -> int:
    language = (
        await session.scalar(text("SELECT language FROM members WHERE id = :m"), {"m": member_id})
        or Language.TAMIL
    )
    with use_language(language):
        when = format_moment(event.start_time)
    return int(
        await tell(
            session, member_id, message, now=now, title=event_title(event, language), when=when
        )
    )


# --- finding ---------------------------------------------------------------------------

_UPCOMING = """
FROM events e JOIN organization_units u ON u.id = e.unit_id
WHERE e.status IN ('published', 'ongoing') AND e.end_time > {now}
  AND EXISTS (SELECT 1 FROM member_units mu JOIN organization_units mine ON mine.id = mu.unit_id
              WHERE mu.member_id = {m} AND mu.left_at IS NULL AND u.path @> mine.path)
"""
"""Published events not yet over, of the member's units and the units above them."""

UPCOMING_SQL = text(
    "SELECT e.id "
    + _UPCOMING.format(now=":now", m=":m")
    + "ORDER BY e.start_time, e.id LIMIT :limit"
)
ANY_UPCOMING = "SELECT EXISTS (SELECT 1 " + _UPCOMING.format(now="$2", m="$1") + ")"


async def any_upcoming(pg: Any, member_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether :func:`upcoming_for` would list anything: one query on the driver
    connection ``pg`` (asyncpg), for the SMS menu, which asks on every display."""
    return bool(await pg.fetchval(ANY_UPCOMING, member_id, now))


async def upcoming_for(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime, limit: int = 9
) -> list[Event]:
    """Published events not yet over, of the member's units and the units above them."""
    ids = list(await session.scalars(UPCOMING_SQL, {"m": member_id, "now": now, "limit": limit}))
    if not ids:
        return []
    found = {e.id: e for e in await session.scalars(select(Event).where(Event.id.in_(ids)))}
    return [found[i] for i in ids]


async def invited(session: AsyncSession, event: Event, member_id: uuid.UUID) -> bool:
    """Whether the member belongs to the event's unit or a unit below it."""
    return bool(
        await session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM member_units mu"
                " JOIN organization_units mine ON mine.id = mu.unit_id"
                " JOIN organization_units u ON u.id = :unit"
                " WHERE mu.member_id = :m AND mu.left_at IS NULL AND u.path @> mine.path)"
            ),
            {"m": member_id, "unit": event.unit_id},
        )
    )


async def of_official(
    session: AsyncSession, official_member_id: uuid.UUID, *, now: datetime, limit: int = 9
) -> list[Event]:
    """Events not yet over inside the official's scope, soonest first."""
    held, scope = officials.permission_scope(official_member_id, EVENTS)
    held = held.where(OrganizationUnit.path.descendant_of(scope.path))
    query = (
        select(Event)
        .join(OrganizationUnit, OrganizationUnit.id == Event.unit_id)
        .where(Event.status.in_(LIVE), Event.end_time > now, held.exists())
        .order_by(Event.start_time, Event.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


# --- the venue code --------------------------------------------------------------------


def venue_code(settings: Settings, event_id: uuid.UUID, at: datetime) -> str:
    """The 4-digit code shown to the event's officials at ``at``: an HMAC of the event
    and the time slot, so it changes every ``event_venue_code_minutes`` and cannot be
    worked out from earlier codes."""
    slot = int(at.timestamp()) // (settings.event_venue_code_minutes * 60)
    key = settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, f"venue:{event_id}:{slot}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10_000:04d}"


def venue_code_ok(settings: Settings, event_id: uuid.UUID, code: str, now: datetime) -> bool:
    """The current code, or the one before it (read out a moment before it changed)."""
    step = timedelta(minutes=settings.event_venue_code_minutes)
    return any(
        hmac.compare_digest(venue_code(settings, event_id, at), code.strip())
        for at in (now, now - step)
    )


def local_time(moment: datetime) -> str:
    return f"{moment.astimezone(INDIA):%Y-%m-%d %H:%M} IST"
