"""Grievance tickets: routing, the audit trail, clocks, the sweep, the appeal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.models import Grievance, GrievanceEvent, OutboxEffect
from core.services import grievance_clock
from core.services import grievances as g
from tests.factories import make_member, make_official, make_tree

NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
HANDLE = (g.HANDLE,)


async def kinds(session: AsyncSession, ticket_id) -> list[str]:
    rows = await session.scalars(
        select(GrievanceEvent.kind)
        .where(GrievanceEvent.grievance_id == ticket_id)
        .order_by(GrievanceEvent.id)
    )
    return list(rows)


async def raise_one(session, settings, member, category="welfare", key=None, now=NOW):
    return await g.raise_ticket(
        session,
        settings,
        member_id=member.id,
        category_id=category,
        subject="Ration card",
        description="My ration card was refused twice.",
        request_key=key,
        now=now,
    )


def test_ticket_numbers_are_digits_typed_back_any_way() -> None:
    assert g.format_number(4217, NOW) == "26004217"
    for typed in ("26004217", "26 004 217", "26-004217", "௨௬௦௦௪௨௧௭", "G26004217"):
        assert g.parse_number(typed) == "26004217"
    for typed in ("", "hello", "1234", "26004217x"):
        assert g.parse_number(typed) is None


def test_clocks_never_pass_the_outer_bound(settings: Settings) -> None:
    ack, resolve = g.clocks(settings, "low", NOW, NOW)
    assert ack == NOW + timedelta(days=7) and resolve == NOW + timedelta(days=21)
    ack, resolve = g.clocks(settings, "low", NOW + timedelta(days=20), NOW)
    assert resolve == ack  # past the bound: at least the acknowledge clock


async def test_a_ticket_goes_to_the_least_loaded_handler_of_the_nearest_unit_with_one(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    first = await make_official(session, unit=tree.constituency_a, permissions=HANDLE)
    second = await make_official(session, unit=tree.constituency_a, permissions=HANDLE)
    await make_official(session, unit=tree.booth_a1, permissions=("announce",))  # no handler
    member = await make_member(session, unit=tree.booth_a1)
    one = await raise_one(session, settings, member)
    two = await raise_one(session, settings, member)
    assigned = {(await session.get(Grievance, t.ticket_id)).assigned_to for t in (one, two)}
    assert assigned == {first.id, second.id}  # the load is shared
    ticket = await session.get(Grievance, one.ticket_id)
    assert ticket.handling_unit_id == tree.constituency_a.id
    assert ticket.priority == "medium" and ticket.status == "submitted"
    assert ticket.ack_due_at == NOW + timedelta(hours=72)
    assert await kinds(session, one.ticket_id) == ["created"]
    again = await raise_one(session, settings, member, key="k1")
    same = await raise_one(session, settings, member, key="k1")
    assert same.ticket_id == again.ticket_id and not same.created


async def test_urgent_tickets_tell_the_district_and_state_at_once(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    await make_official(session, unit=tree.constituency_a, permissions=HANDLE)
    district = await make_official(session, unit=tree.district_a, permissions=HANDLE)
    state = await make_official(session, unit=tree.state, permissions=HANDLE)
    other = await make_official(session, unit=tree.district_b, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    raised = await raise_one(session, settings, member, category="atrocity")
    assert raised.priority == "urgent"
    told = {
        row.payload["address"]
        for row in await session.scalars(
            select(OutboxEffect).where(OutboxEffect.id.in_(raised.effects))
        )
    }
    assert {district.phone, state.phone} <= told and other.phone not in told


async def test_the_sweep_escalates_breached_tickets_one_level_and_stops_at_the_top(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    booth = await make_official(session, unit=tree.booth_a1, permissions=HANDLE)
    district = await make_official(session, unit=tree.district_a, permissions=HANDLE)
    state = await make_official(session, unit=tree.state, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    raised = await raise_one(session, settings, member, category="atrocity")
    fresh = await raise_one(session, settings, member, category="party")
    ticket = await session.get(Grievance, raised.ticket_id)
    assert ticket.assigned_to == booth.id

    assert (
        await grievance_clock.sweep(session, settings, now=NOW + timedelta(hours=1))
    ).escalated == 0
    swept = await grievance_clock.sweep(session, settings, now=NOW + timedelta(hours=2, minutes=1))
    assert swept.escalated == 1 and swept.notices == 3  # both levels and the member
    await session.refresh(ticket)
    assert ticket.assigned_to == district.id and ticket.handling_unit_id == tree.district_a.id
    assert ticket.escalations == 1 and ticket.status == "submitted"
    assert ticket.ack_due_at == NOW + timedelta(hours=4, minutes=1)  # its own clock
    assert (await session.get(Grievance, fresh.ticket_id)).escalations == 0

    later = NOW + timedelta(hours=4, minutes=2)
    assert (await grievance_clock.sweep(session, settings, now=later)).escalated == 1
    await session.refresh(ticket)
    assert ticket.assigned_to == state.id
    top = await grievance_clock.sweep(session, settings, now=later + timedelta(hours=3))
    assert top.breached_at_top == 1 and top.escalated == 0
    again = await grievance_clock.sweep(session, settings, now=later + timedelta(hours=4))
    assert again == grievance_clock.Swept(0, 0, 0)  # told once, not every minute
    assert await kinds(session, ticket.id) == ["created", "escalated", "escalated", "breached"]


async def test_a_question_stops_the_clock_until_the_member_answers(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.constituency_a, permissions=HANDLE)
    await make_official(session, unit=tree.district_a, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    raised = await raise_one(session, settings, member, category="atrocity")
    asked = await g.ask(
        session, official.id, raised.number, "Which village?", now=NOW + timedelta(hours=1)
    )
    assert isinstance(asked, g.Changed) and asked.ticket.waiting_since is not None
    assert await g.pending_for_member(session, member.id, NOW) == ("answer", asked.ticket)
    # Five hours waiting: no escalation.
    assert (
        await grievance_clock.sweep(session, settings, now=NOW + timedelta(hours=6))
    ).escalated == 0
    answered = await g.answer(
        session, member.id, raised.number, "Kandamanadi", now=NOW + timedelta(hours=6)
    )
    assert isinstance(answered, g.Changed)
    ticket = answered.ticket
    assert ticket.waiting_since is None
    assert ticket.resolve_due_at == NOW + timedelta(hours=72 + 5)
    assert await kinds(session, ticket.id) == ["created", "asked", "answered"]


async def test_officials_act_only_within_their_subtree(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    mine = await make_official(session, unit=tree.district_a, permissions=HANDLE)
    theirs = await make_official(session, unit=tree.district_b, permissions=HANDLE)
    below = await make_official(session, unit=tree.booth_a2, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    raised = await raise_one(session, settings, member)
    assert await g.for_official(session, theirs.id, raised.number) is g.Refusal.UNKNOWN
    assert await g.acknowledge(session, theirs.id, raised.number, now=NOW) is g.Refusal.UNKNOWN
    assert (
        await g.reassign(session, settings, mine.id, raised.number, theirs.id, now=NOW)
        is g.Refusal.OUTSIDE
    )
    moved = await g.reassign(session, settings, mine.id, raised.number, below.id, now=NOW)
    assert isinstance(moved, g.Changed) and moved.ticket.assigned_to == below.id
    done = await g.resolve(session, mine.id, raised.number, "Card issued.", now=NOW)
    assert isinstance(done, g.Changed) and done.ticket.status == "resolved"
    assert await g.resolve(session, mine.id, raised.number, "Again", now=NOW) is g.Refusal.CLOSED
    assert await g.answer(session, member.id, raised.number, "more", now=NOW) is g.Refusal.CLOSED
    stranger = await make_member(session, unit=tree.booth_a1)
    assert await g.for_member(session, stranger.id, raised.number) is g.Refusal.UNKNOWN
    assert await g.for_member(session, member.id, "99999999") is g.Refusal.UNKNOWN


async def test_a_poor_rating_reopens_the_ticket_as_an_appeal_one_level_above(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    constituency = await make_official(session, unit=tree.constituency_a, permissions=HANDLE)
    district = await make_official(session, unit=tree.district_a, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    raised = await raise_one(session, settings, member)
    await g.resolve(session, constituency.id, raised.number, "Done.", now=NOW)
    assert (await g.pending_for_member(session, member.id, NOW))[0] == "rate"
    rated = await g.rate(session, settings, member.id, raised.number, "poor", now=NOW)
    assert isinstance(rated, g.Changed)
    ticket = rated.ticket
    assert ticket.is_appeal and ticket.status == "submitted" and ticket.assigned_to == district.id
    assert ticket.resolve_due_at <= NOW + timedelta(days=21)
    assert (
        await g.rate(session, settings, member.id, raised.number, "good", now=NOW)
        is g.Refusal.NOT_NOW
    )
    assert await kinds(session, ticket.id) == ["created", "resolved", "rated", "reopened"]
    count = await session.scalar(
        select(func.count())
        .select_from(GrievanceEvent)
        .where(GrievanceEvent.grievance_id == ticket.id, GrievanceEvent.at.is_not(None))
    )
    assert count == 4


async def test_the_report_counts_open_tickets_by_unit_category_and_age(
    session: AsyncSession, settings: Settings
) -> None:
    from core.services import grievance_reports

    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    await raise_one(session, settings, member, now=NOW - timedelta(days=5))
    await raise_one(session, settings, member, category="police")
    done = await raise_one(session, settings, member, now=NOW - timedelta(days=2))
    await g.resolve(session, official.id, done.number, "Fixed.", now=NOW)
    late = await raise_one(
        session, settings, member, category="atrocity", now=NOW - timedelta(days=9)
    )
    await g.resolve(session, official.id, late.number, "Late.", now=NOW)
    found = await grievance_reports.report(session, tree.state.code, now=NOW)
    assert found is not None
    assert found.open == 2 and found.overdue == 1  # five days unacknowledged
    assert found.by_unit == [(tree.district_a.code, "Alpha District", None, 2)]
    assert sorted(found.by_category) == [("police", 1), ("welfare", 1)]
    assert dict(found.by_age) == {"<1d": 1, "1-3d": 0, "3-7d": 1, "7-21d": 0, ">21d": 0}
    assert (found.resolved, found.resolved_in_time, found.in_time_percent) == (2, 1, 50)
    assert await grievance_reports.report(session, "NO.SUCH", now=NOW) is None
    other = await grievance_reports.report(session, tree.district_b.code, now=NOW)
    assert other is not None and other.open == 0


async def test_erasing_a_member_empties_what_they_wrote_in_their_tickets(
    session: AsyncSession, settings: Settings
) -> None:
    from core.services import privacy

    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    raised = await raise_one(session, settings, member)
    await g.ask(session, official.id, raised.number, "Which shop?", now=NOW)
    await g.answer(session, member.id, raised.number, "The one near the temple", now=NOW)
    await privacy.erase_member(session, member.id, secret="k" * 32, now=NOW)
    ticket = await session.get(Grievance, raised.ticket_id)
    await session.refresh(ticket)
    assert ticket.description == "" and ticket.subject == "" and ticket.member_id == member.id
    notes = await session.scalars(
        select(GrievanceEvent.note).where(GrievanceEvent.grievance_id == ticket.id)
    )
    assert set(notes) == {None}
    assert await kinds(session, ticket.id) == ["created", "asked", "answered"]


def test_the_worker_sweeps_every_minute() -> None:
    from notifier.bootstrap import NotifierOptions
    from notifier.worker import bulk_worker

    class Deps:
        options = NotifierOptions()

    worker = bulk_worker(Deps(), pool=None)  # type: ignore[arg-type]
    sweeps = [job for job in worker.cron_jobs if "sweep_grievances" in job.name]
    assert len(sweeps) == 1 and sweeps[0].second == 15 and sweeps[0].minute is None


async def test_vck_grievances_sweep_and_report(session: AsyncSession, settings: Settings) -> None:
    import asyncio
    import os
    import subprocess
    import sys

    tree = await make_tree(session)
    await make_official(session, unit=tree.constituency_a, permissions=HANDLE)
    await make_official(session, unit=tree.district_a, permissions=HANDLE)
    member = await make_member(session, unit=tree.booth_a1)
    await raise_one(session, settings, member, now=datetime.now(UTC) - timedelta(days=4))
    await session.commit()
    env = {**os.environ, "VCK_DATABASE_URL": settings.database_url, "VCK_ENVIRONMENT": "test"}

    def vck(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", *args],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip

    swept = await asyncio.to_thread(vck, "grievances", "sweep")
    assert swept.returncode == 0, swept.stderr
    assert "escalated 1" in swept.stdout
    report = await asyncio.to_thread(vck, "grievances", "report", "--unit", tree.state.code)
    assert report.returncode == 0, report.stderr
    assert f"{tree.state.code}: 1 open" in report.stdout and "welfare 1" in report.stdout
    unknown = await asyncio.to_thread(vck, "grievances", "report", "--unit", "NO.SUCH")
    assert unknown.returncode == 1
