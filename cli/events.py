"""``vck events``: create an event (and invite its unit), show its venue code, see it
live, move or cancel it."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from cli.common import acting_official, in_session, moment, refused

TYPES = ("rally", "meeting", "protest", "campaign", "training", "celebration", "other")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("events", help="events: create, venue code, live report")
    events = group.add_subparsers(dest="events_command", required=True)

    create = events.add_parser("create", help="create an event and invite its unit")
    create.add_argument("--unit", required=True, help="unit code, e.g. TN.VPM")
    create.add_argument("--title", required=True)
    create.add_argument("--title-ta")
    create.add_argument("--type", required=True, choices=TYPES)
    create.add_argument("--start", required=True, help="ISO 8601 (no zone: India's)")
    create.add_argument("--end", required=True, help="ISO 8601 (no zone: India's)")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--lat", type=float)
    where.add_argument("--booth", help="a booth's unit code: the venue is its centre")
    create.add_argument("--lon", type=float)
    create.add_argument("--venue", help="the venue's name")
    create.add_argument("--radius", type=int, default=100, help="geo-fence in metres")
    create.add_argument("--capacity", type=int)
    create.add_argument("--deadline", help="RSVP deadline, ISO 8601")
    create.add_argument(
        "--venue-code", action="store_true", help="WhatsApp check-in needs the venue code"
    )
    create.add_argument("--walk-ins", action="store_true", help="members may come unregistered")
    create.add_argument("--as", dest="official", help="create as this official (phone, E.164)")
    create.set_defaults(handler=_create)

    code = events.add_parser("code", help="the current venue code of an event")
    code.add_argument("event_id", type=uuid.UUID)
    code.set_defaults(handler=_code)

    report = events.add_parser("report", help="registered, waiting, checked in, no-show")
    report.add_argument("event_id", type=uuid.UUID)
    report.set_defaults(handler=_report)

    cancel = events.add_parser("cancel", help="cancel an event; those coming are told")
    cancel.add_argument("event_id", type=uuid.UUID)
    cancel.set_defaults(handler=_cancel)

    move = events.add_parser("move", help="move an event; those coming are told")
    move.add_argument("event_id", type=uuid.UUID)
    move.add_argument("--start", required=True)
    move.add_argument("--end")
    move.set_defaults(handler=_move)


def _schedule(settings: Any, announcement_id: uuid.UUID, at: datetime) -> None:
    from redis.asyncio import Redis

    from core.jobs import redis_jobs

    async def run() -> None:
        redis = Redis.from_url(settings.redis_url)
        try:
            await redis_jobs(redis).schedule_publish(announcement_id, at)
        finally:
            await redis.aclose()

    asyncio.run(run())


def _create(args: argparse.Namespace) -> int:
    from core.models.events import EventType
    from core.services import events

    if args.lat is not None and args.lon is None:
        print("--lat needs --lon", file=sys.stderr)
        return 2
    published: list[Any] = []

    async def work(session: Any, settings: Any) -> int:
        official = await acting_official(session, args.official)
        if official is False:
            return 2
        if args.booth:
            venue = await events.booth_venue(session, args.booth)
            if venue is None:
                print(f"refused: booth_not_found {args.booth}", file=sys.stderr)
                return 1
        else:
            venue = events.Venue(args.lat, args.lon)
        now = datetime.now(UTC)
        made = await events.create(
            session,
            official_member_id=official,
            unit_code=args.unit,
            title=args.title,
            title_ta=args.title_ta,
            type=EventType(args.type),
            start=moment(args.start),  # type: ignore[arg-type]
            end=moment(args.end),
            venue=venue,
            venue_name=args.venue,
            radius_m=args.radius,
            capacity=args.capacity,
            deadline=moment(args.deadline),
            venue_code_required=args.venue_code,
            walk_ins=args.walk_ins,
            now=now,
            settings=settings,
        )
        if isinstance(made, events.Refused):
            return refused(made)
        invitation = await events.publish(session, made, now=now, settings=settings)
        if isinstance(invitation, events.announcements.Refused):
            print(f"refused: invitation {invitation.reason.value}", file=sys.stderr)
            return 1
        published.append((made.id, invitation.announcement_id, invitation.publish_at))
        return 0

    code = in_session(work)
    if code == 0:
        event_id, announcement_id, at = published[0]
        from core.config import load_settings

        _schedule(load_settings(), announcement_id, at)
        print(event_id)
    return code


def _code(args: argparse.Namespace) -> int:
    from core.services import events

    async def work(session: Any, settings: Any) -> int:
        event = await session.get(events.Event, args.event_id)
        if event is None:
            print("no such event", file=sys.stderr)
            return 1
        now = datetime.now(UTC)
        print(events.venue_code(settings, event.id, now))
        return 0

    return in_session(work)


def _report(args: argparse.Namespace) -> int:
    from core.services import checkin

    async def work(session: Any, settings: Any) -> int:
        found = await checkin.report(session, args.event_id)
        if found is None:
            print("no such event", file=sys.stderr)
            return 1
        print(f"{found.title} ({found.status}), capacity {found.capacity or '-'}")
        print(_counts(found.counts))
        for unit in found.by_unit:
            print(f"  {unit.code} {unit.name}: {_counts(unit.counts)}")
        return 0

    return in_session(work)


def _counts(counts: dict[str, int]) -> str:
    shown = ("registered", "waitlisted", "attended", "no_show", "cancelled")
    return ", ".join(f"{name} {counts.get(name, 0)}" for name in shown)


def _cancel(args: argparse.Namespace) -> int:
    from core.services import events

    async def work(session: Any, settings: Any) -> int:
        event = await session.get(events.Event, args.event_id, with_for_update=True)
        if event is None:
            print("no such event", file=sys.stderr)
            return 1
        told = await events.cancel(session, event, now=datetime.now(UTC))
        print(f"cancelled; {told} member(s) told")
        return 0

    return in_session(work)


def _move(args: argparse.Namespace) -> int:
    from core.services import events

    async def work(session: Any, settings: Any) -> int:
        event = await session.get(events.Event, args.event_id, with_for_update=True)
        if event is None:
            print("no such event", file=sys.stderr)
            return 1
        told = await events.move(
            session, event, start=moment(args.start), end=moment(args.end),  # type: ignore[arg-type]
            now=datetime.now(UTC),
        )  # fmt: skip
        if isinstance(told, events.Refused):
            print(f"refused: {told.reason.value}", file=sys.stderr)
            return 1
        print(f"moved; {told} member(s) told")
        return 0

    return in_session(work)
