"""Events: creating one (bad input refused, scope kept), RSVP with capacity and a
waitlist, check-in by location, reminders once, no-shows, the live report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from core.models import MemberActivity
from core.models.events import AttendanceStatus, EventAttendee, EventStatus, EventType
from core.services import attendance, checkin, events
from core.services.attendance import Rsvp
from core.services.checkin import CheckIn, Sighting
from tests.factories import make_member, make_official, make_tree

NOW = datetime(2027, 3, 1, 4, 30, tzinfo=UTC)  # 10:00 in Villupuram
VENUE = events.Venue(11.9401, 79.4861, "Villupuram bus stand")
# About 300 m north of the venue.
NEARBY = (11.9428, 79.4861)


@pytest.fixture
async def tree(session):
    return await make_tree(session)


@pytest.fixture
async def official(session, tree):
    return await make_official(session, unit=tree.district_a, permissions=("announce",))


async def make_event(session, settings, official, unit, **kw):
    values = dict(
        official_member_id=official.id,
        unit_code=unit.code,
        title="District rally",
        title_ta="மாவட்டப் பேரணி",
        type=EventType.RALLY,
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, hours=3),
        venue=VENUE,
        now=NOW,
        settings=settings,
    )
    values.update(kw)
    made = await events.create(session, **values)
    assert not isinstance(made, events.Refused), made
    made.status = EventStatus.PUBLISHED
    await session.flush()
    return made


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"start": NOW - timedelta(hours=1)}, events.Refusal.IN_PAST),
        ({"end": NOW + timedelta(days=1)}, events.Refusal.END_BEFORE_START),
        ({"radius_m": 0}, events.Refusal.BAD_RADIUS),
        ({"radius_m": 100_000}, events.Refusal.BAD_RADIUS),
        ({"capacity": 0}, events.Refusal.BAD_CAPACITY),
        ({"venue": events.Venue(12.9716, 77.5946)}, events.Refusal.OUTSIDE_TAMIL_NADU),  # Bengaluru
        ({"venue": events.Venue(28.61, 77.21)}, events.Refusal.OUTSIDE_TAMIL_NADU),  # Delhi
        ({"deadline": NOW + timedelta(days=3)}, events.Refusal.BAD_DEADLINE),
        ({"start": datetime(2027, 3, 3, 10, 0)}, events.Refusal.NO_TIMEZONE),
    ],
)
async def test_bad_events_are_refused(session, settings, tree, official, change, reason) -> None:
    values = dict(
        official_member_id=official.id,
        unit_code=tree.district_a.code,
        title="Rally",
        type=EventType.RALLY,
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, hours=2),
        venue=VENUE,
        now=NOW,
        settings=settings,
    )
    values.update(change)
    refused = await events.create(session, **values)
    assert isinstance(refused, events.Refused) and refused.reason is reason


async def test_an_official_calls_events_in_their_unit_or_below_never_above_or_beside(
    session, settings, tree, official
) -> None:
    assert await make_event(session, settings, official, tree.district_a)
    assert await make_event(session, settings, official, tree.booth_a1)
    for unit in (tree.state, tree.district_b, tree.booth_b1):
        refused = await events.create(
            session,
            official_member_id=official.id,
            unit_code=unit.code,
            title="Rally",
            type=EventType.RALLY,
            start=NOW + timedelta(days=1),
            venue=VENUE,
            now=NOW,
            settings=settings,
        )
        assert isinstance(refused, events.Refused)
        assert refused.reason is events.Refusal.NOT_ALLOWED


async def test_a_venue_from_a_pin_code_or_a_booth(session, settings, official, tree) -> None:
    centre = events.pin_centre("605602")
    assert centre is not None and 11.8 < centre.latitude < 12.1
    assert events.pin_centre("560001") is None  # Bengaluru: not Tamil Nadu
    booth = await events.booth_venue(session, "TN.VPM.AC074.B0001")  # demo booth
    assert booth is not None and 11.8 < booth.latitude < 12.1


async def test_the_same_request_key_makes_one_event(session, settings, official, tree) -> None:
    first = await make_event(session, settings, official, tree.district_a, request_key="k1")
    again = await make_event(session, settings, official, tree.district_a, request_key="k1")
    assert first.id == again.id


async def outbox_texts(session) -> list[str]:
    rows = await session.scalars(text("SELECT payload->>'text' FROM outbox WHERE kind = 'notice'"))
    return list(rows)


async def test_capacity_waitlist_offers_and_notices(session, settings, official, tree) -> None:
    event = await make_event(session, settings, official, tree.district_a, capacity=5)
    people = [await make_member(session, unit=tree.booth_a1) for _ in range(7)]
    answers = [
        (await attendance.yes(session, event.id, p.id, now=NOW, settings=settings)).result
        for p in people
    ]
    assert answers == [Rsvp.REGISTERED] * 5 + [Rsvp.WAITLISTED] * 2
    twice = await attendance.yes(session, event.id, people[0].id, now=NOW, settings=settings)
    assert twice.result is Rsvp.ALREADY_REGISTERED
    last = await attendance.yes(session, event.id, people[6].id, now=NOW, settings=settings)
    assert last == attendance.Answered(Rsvp.ALREADY_WAITLISTED, 2)
    # The official heard at 80 % (4 of 5) and at 100 %, once each.
    notices = await outbox_texts(session)
    assert sum("4" in n and "80%" in n for n in notices) == 1
    assert sum("100%" in n for n in notices) == 1

    # A place freed: the first waiting member is offered it, and takes it.
    gone = await attendance.no(session, event.id, people[1].id, now=NOW, settings=settings)
    assert gone.result is Rsvp.PLACE_GIVEN_UP
    offered = await session.scalar(
        select(EventAttendee).where(EventAttendee.member_id == people[5].id)
    )
    assert offered.offered_until == NOW + timedelta(minutes=settings.event_offer_confirm_minutes)
    # A newcomer cannot take the held place.
    newcomer = await make_member(session, unit=tree.booth_a2)
    late = await attendance.yes(session, event.id, newcomer.id, now=NOW, settings=settings)
    assert late.result is Rsvp.WAITLISTED
    took = await attendance.yes(session, event.id, people[5].id, now=NOW, settings=settings)
    assert took.result is Rsvp.REGISTERED

    # Another place frees; the offer lapses and passes to the next in line.
    await attendance.no(session, event.id, people[2].id, now=NOW, settings=settings)
    later = NOW + timedelta(minutes=settings.event_offer_confirm_minutes + 1)
    assert await attendance.expire_offers(session, now=later, settings=settings) == 1
    nxt = await session.scalar(select(EventAttendee).where(EventAttendee.member_id == newcomer.id))
    assert nxt.offered_until is not None and nxt.status is AttendanceStatus.WAITLISTED

    points = await session.scalar(
        select(func.count())
        .select_from(MemberActivity)
        .where(MemberActivity.activity_id == event.id, MemberActivity.activity_type == "event_rsvp")
    )
    assert points == 8  # once per member, however often they changed their mind


async def test_rsvp_after_the_deadline_to_a_cancelled_event_or_from_outside(
    session, settings, official, tree
) -> None:
    event = await make_event(
        session, settings, official, tree.constituency_a, deadline=NOW + timedelta(days=1)
    )
    member = await make_member(session, unit=tree.booth_a1)
    stranger = await make_member(session, unit=tree.booth_b1)
    after = NOW + timedelta(days=1, minutes=1)
    closed = await attendance.yes(session, event.id, member.id, now=after, settings=settings)
    assert closed.result is Rsvp.CLOSED
    outside = await attendance.yes(session, event.id, stranger.id, now=NOW, settings=settings)
    assert outside.result is Rsvp.NOT_INVITED
    assert (
        await attendance.yes(session, event.id, member.id, now=NOW, settings=settings)
    ).result is Rsvp.REGISTERED
    told = await events.cancel(session, event, now=NOW)
    assert told == 1 and any("cancelled" in t or "ரத்து" in t for t in await outbox_texts(session))
    cancelled = await attendance.yes(session, event.id, stranger.id, now=NOW, settings=settings)
    assert cancelled.result is Rsvp.CANCELLED


async def test_check_in_by_location(session, settings, official, tree) -> None:
    event = await make_event(session, settings, official, tree.district_a, radius_m=100)
    member = await make_member(session, unit=tree.booth_a1)
    stranger = await make_member(session, unit=tree.booth_a1)
    await attendance.yes(session, event.id, member.id, now=NOW, settings=settings)
    at_venue = Sighting(VENUE.latitude, VENUE.longitude)
    start = event.start_time

    async def check(who, sighting, at, **kw):
        return await checkin.check_in(
            session, event.id, who.id, sighting, now=at, settings=settings, **kw
        )

    early = await check(member, at_venue, start - timedelta(minutes=61))
    assert early.result is CheckIn.NOT_OPEN
    late = await check(member, at_venue, event.end_time + timedelta(minutes=1))
    assert late.result is CheckIn.OVER
    during = start + timedelta(minutes=5)
    assert (await check(stranger, at_venue, during)).result is CheckIn.NOT_REGISTERED
    forwarded = Sighting(*NEARBY, forwarded=True)
    assert (await check(member, forwarded, during)).result is CheckIn.FORWARDED
    stale = Sighting(VENUE.latitude, VENUE.longitude, sent_at=during - timedelta(minutes=3))
    assert (await check(member, stale, during)).result is CheckIn.STALE
    far = await check(member, Sighting(*NEARBY), during)
    assert far.result is CheckIn.TOO_FAR and 250 < far.distance_m < 350
    # Telegram's reported accuracy widens the fence, but only up to the cap.
    capped = await check(member, Sighting(*NEARBY, accuracy_m=1500), during)
    assert capped.result is CheckIn.TOO_FAR  # 100 + 150 < 300
    widened = await check(member, Sighting(11.9415, 79.4861, accuracy_m=100), during)
    assert widened.result is CheckIn.ACCEPTED  # ~155 m away, 100 + 100 allowed
    again = await check(member, at_venue, during)
    assert again.result is CheckIn.ALREADY
    row = await session.scalar(select(EventAttendee).where(EventAttendee.member_id == member.id))
    await session.refresh(row)
    assert row.status is AttendanceStatus.ATTENDED and row.check_in_method == "location"
    earned = await session.scalars(
        select(MemberActivity.points).where(
            MemberActivity.member_id == member.id,
            MemberActivity.activity_type == "event_attendance",
        )
    )
    assert list(earned) == [settings.event_attendance_points]


async def test_a_venue_code_where_a_pin_proves_nothing(session, settings, official, tree) -> None:
    event = await make_event(session, settings, official, tree.district_a, venue_code_required=True)
    member = await make_member(session, unit=tree.booth_a1)
    await attendance.yes(session, event.id, member.id, now=NOW, settings=settings)
    during = event.start_time
    here = Sighting(VENUE.latitude, VENUE.longitude)
    code = events.venue_code(settings, event.id, during)
    assert len(code) == 4 and code.isdigit()
    wrong = f"{(int(code) + 1) % 10000:04d}"
    refused = await checkin.check_in(
        session, event.id, member.id, here, now=during, settings=settings,
        code=wrong, location_proves=False,
    )  # fmt: skip
    assert refused.result is CheckIn.CODE_WRONG
    # The code changes every ten minutes; the one just before still counts.
    later = during + timedelta(minutes=10)
    ok = await checkin.check_in(
        session, event.id, member.id, here, now=later, settings=settings,
        code=code, location_proves=False,
    )  # fmt: skip
    assert ok.result is CheckIn.ACCEPTED
    assert not events.venue_code_ok(settings, event.id, code, during + timedelta(minutes=25))


async def test_a_booth_agent_checks_in_a_walk_in(session, settings, official, tree) -> None:
    event = await make_event(session, settings, official, tree.district_a)
    agent = await make_official(session, unit=tree.booth_a1, permissions=("view_reports",))
    await make_member(session, unit=tree.booth_a2, membership_number="VCK-QAA-0000001")
    outsider = await make_official(session, unit=tree.booth_b1, permissions=("view_reports",))
    during = event.start_time
    refused = await checkin.walk_in(
        session, event.id, outsider.id, "VCK-QAA-0000001", now=during, settings=settings
    )
    assert refused.result is CheckIn.NOT_ALLOWED
    done = await checkin.walk_in(
        session, event.id, agent.id, "vck-qaa-0000001", now=during, settings=settings
    )
    assert done.result is CheckIn.ACCEPTED and done.member_name == "Test Member"
    twice = await checkin.walk_in(
        session, event.id, agent.id, "VCK-QAA-0000001", now=during, settings=settings
    )
    assert twice.result is CheckIn.ALREADY
    unknown = await checkin.walk_in(
        session, event.id, agent.id, "VCK-QAA-9999999", now=during, settings=settings
    )
    assert unknown.result is CheckIn.NO_SUCH_MEMBER


async def test_reminders_go_once_each_and_never_after_a_cancellation(
    session, settings, official, tree
) -> None:
    event = await make_event(session, settings, official, tree.district_a)
    other = await make_event(session, settings, official, tree.district_a)
    member = await make_member(session, unit=tree.booth_a1)
    for e in (event, other):
        await attendance.yes(session, e.id, member.id, now=NOW, settings=settings)
    await events.cancel(session, other, now=NOW)
    base = len(await outbox_texts(session))
    day_before = event.start_time - timedelta(hours=23)
    assert await checkin.send_reminders(session, now=day_before, settings=settings) == 1
    assert await checkin.send_reminders(session, now=day_before, settings=settings) == 0
    two_hours = event.start_time - timedelta(minutes=110)
    assert await checkin.send_reminders(session, now=two_hours, settings=settings) == 1
    assert await checkin.send_reminders(session, now=two_hours, settings=settings) == 0
    texts = (await outbox_texts(session))[base:]
    assert len(texts) == 2 and all("மாவட்டப் பேரணி" in t for t in texts)


async def test_no_shows_and_the_live_report(session, settings, official, tree) -> None:
    event = await make_event(session, settings, official, tree.district_a, capacity=2)
    came = await make_member(session, unit=tree.booth_a1)
    missed = await make_member(session, unit=tree.booth_a2)
    waiting = await make_member(session, unit=tree.booth_a1)
    for m in (came, missed, waiting):
        await attendance.yes(session, event.id, m.id, now=NOW, settings=settings)
    await checkin.check_in(
        session, event.id, came.id, Sighting(VENUE.latitude, VENUE.longitude),
        now=event.start_time, settings=settings,
    )  # fmt: skip
    assert await checkin.mark_ongoing(session, now=event.start_time - timedelta(minutes=1)) == 0
    assert await checkin.mark_ongoing(session, now=event.start_time) == 1
    live = await checkin.report(session, event.id)
    assert live.counts == {"attended": 1, "registered": 1, "waitlisted": 1}
    assert live.status == "ongoing"
    assert [u.code for u in live.by_unit] == [tree.constituency_a.code]
    assert await checkin.mark_no_shows(session, now=event.end_time) == 2
    final = await checkin.report(session, event.id)
    assert final.counts == {"attended": 1, "no_show": 1, "cancelled": 1}
    assert final.status == "completed"


async def test_the_worker_cron_reminds_and_closes_events(
    session, session_factory, settings, official, tree
) -> None:
    from types import SimpleNamespace

    from notifier.event_jobs import event_chores

    event = await make_event(session, settings, official, tree.district_a)
    member = await make_member(session, unit=tree.booth_a1)
    await attendance.yes(session, event.id, member.id, now=NOW, settings=settings)
    await session.commit()
    deps = SimpleNamespace(settings=settings, session_factory=session_factory)
    before = event.start_time - timedelta(hours=1)
    assert await event_chores(deps, now=before) == 1  # the 2-hour reminder
    assert await event_chores(deps, now=before) == 0
    assert await event_chores(deps, now=event.end_time) == 1  # a no-show
    row = await session.scalar(select(EventAttendee).where(EventAttendee.member_id == member.id))
    await session.refresh(row)
    assert row.status is AttendanceStatus.NO_SHOW
