"""core.fanout: who gets an announcement, on which channel, in which batch."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import announcements, fanout
from core.config import Settings
from core.db import Timeouts, make_engine, make_session_factory
from core.fanout import FanoutPolicy, PublishState, publish, release_deferred
from core.models import AnnouncementDelivery, ChannelAddress, Member, MemberStatus, MemberUnit
from tests.factories import Tree, make_member, make_tree

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


async def address(
    session: AsyncSession,
    member: Member,
    channel: str,
    value: str | None = None,
    *,
    last_inbound_at: datetime | None = None,
    opted_out_at: datetime | None = None,
) -> ChannelAddress:
    row = ChannelAddress(
        channel=channel,
        address=value
        or (member.phone if channel != "telegram" else str(uuid.uuid4().int % 10**10)),
        phone=member.phone,
        member_id=member.id,
        last_inbound_at=last_inbound_at,
        opted_out_at=opted_out_at,
    )
    session.add(row)
    await session.flush()
    return row


async def announce(
    session: AsyncSession, settings: Settings, unit_code: str, **kw: object
) -> uuid.UUID:
    created = await announcements.create(
        session,
        official_member_id=None,
        unit_code=unit_code,
        title=str(kw.pop("title", "Meeting")),
        content=str(kw.pop("content", "District meeting on Sunday at 10.")),
        now=kw.pop("now", NOW),  # type: ignore[arg-type]
        settings=settings,
        **kw,  # type: ignore[arg-type]
    )
    assert isinstance(created, announcements.Created), created
    return created.announcement_id


async def rows(
    session: AsyncSession, announcement_id: uuid.UUID
) -> dict[uuid.UUID, AnnouncementDelivery]:
    found = await session.scalars(
        select(AnnouncementDelivery).where(AnnouncementDelivery.announcement_id == announcement_id)
    )
    return {r.member_id: r for r in found}


@pytest.fixture
async def tree(session: AsyncSession) -> Tree:
    return await make_tree(session)


async def test_recipients_are_the_active_reachable_members_inside_the_scope(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    in_booth = await make_member(session, unit=tree.booth_a1)
    await address(session, in_booth, "whatsapp")
    in_two_units = await make_member(session, unit=tree.booth_a2)
    session.add(MemberUnit(member_id=in_two_units.id, unit_id=tree.constituency_a.id))
    await address(session, in_two_units, "telegram")
    at_district = await make_member(session, unit=tree.district_a)
    await address(session, at_district, "sms")
    pending = await make_member(session, unit=tree.booth_a1, status=MemberStatus.PENDING)
    await address(session, pending, "whatsapp")
    suspended = await make_member(session, unit=tree.booth_a2, status=MemberStatus.SUSPENDED)
    await address(session, suspended, "whatsapp")
    neighbour = await make_member(session, unit=tree.booth_b1)
    await address(session, neighbour, "whatsapp")
    left = await make_member(session)
    session.add(
        MemberUnit(member_id=left.id, unit_id=tree.booth_a1.id, is_primary=True, left_at=NOW)
    )
    await address(session, left, "whatsapp")
    stopped = await make_member(session, unit=tree.booth_a1)
    await address(session, stopped, "whatsapp", opted_out_at=NOW)
    await address(session, stopped, "sms", opted_out_at=NOW)

    aid = await announce(session, settings, tree.district_a.code)
    published = await publish(session, aid, now=NOW, policy=FanoutPolicy())

    assert published.state is PublishState.PUBLISHED
    assert set(await rows(session, aid)) == {in_booth.id, in_two_units.id, at_district.id}
    assert published.rows == 3


async def test_channel_choice_per_member(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    unit = tree.booth_a1
    window = await make_member(session, unit=unit, language="en")
    await address(session, window, "whatsapp", last_inbound_at=NOW - timedelta(hours=2))
    await address(session, window, "telegram")
    template = await make_member(session, unit=unit)
    await address(session, template, "whatsapp", last_inbound_at=NOW - timedelta(hours=30))
    telegram = await make_member(session, unit=unit)
    tg = await address(session, telegram, "telegram", "5550001")
    await address(session, telegram, "sms")
    indian_sms = await make_member(session, unit=unit, phone="+919800000001")
    await address(session, indian_sms, "sms")
    foreign_sms = await make_member(session, unit=unit, phone="+447700900123")
    await address(session, foreign_sms, "sms")
    phone_only = await make_member(session, unit=unit, phone="+919800000002")
    whatsapp_stopped = await make_member(session, unit=unit, phone="+919800000003")
    await address(session, whatsapp_stopped, "whatsapp", opted_out_at=NOW)

    aid = await announce(session, settings, unit.code)
    await publish(session, aid, now=NOW, policy=FanoutPolicy())
    got = await rows(session, aid)

    def route(member: Member) -> tuple[str, str, str, bool]:
        r = got[member.id]
        return r.channel, r.provider, r.address, r.via_template

    assert route(window) == ("whatsapp", "twilio", window.phone, False)
    assert got[window.id].language == "en"
    assert route(template) == ("whatsapp", "twilio", template.phone, True)
    assert route(telegram) == ("telegram", "telegram", tg.address, False)
    assert route(indian_sms) == ("sms", "dlt", "+919800000001", False)
    assert route(foreign_sms) == ("sms", "twilio", "+447700900123", False)
    assert route(phone_only) == ("sms", "dlt", "+919800000002", False)
    # STOP on WhatsApp: no other address of their own, and the phone is not used either.
    assert whatsapp_stopped.id not in got
    # Only the template took a WhatsApp tier slot.
    assert got[template.id].whatsapp_tier_at is not None
    assert got[window.id].whatsapp_tier_at is None


async def test_whatsapp_tier_limit_overflows_to_other_channels_or_waits(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    unit = tree.booth_a2
    outside = []
    for _ in range(3):
        member = await make_member(session, unit=unit)
        await address(session, member, "whatsapp")
        outside.append(member)
    with_telegram = await make_member(session, unit=unit)
    await address(session, with_telegram, "whatsapp")
    await address(session, with_telegram, "telegram")
    inside = await make_member(session, unit=unit)
    await address(session, inside, "whatsapp", last_inbound_at=NOW - timedelta(minutes=5))

    policy = FanoutPolicy(whatsapp_daily_limit=2, overflow_to_sms=False)
    aid = await announce(session, settings, unit.code)
    await publish(session, aid, now=NOW, policy=policy)
    got = list((await rows(session, aid)).values())

    templates = [r for r in got if r.channel == "whatsapp" and r.status == "queued"]
    assert len([r for r in templates if r.via_template]) == 2  # the tier
    assert [r.via_template for r in templates if r.member_id == inside.id] == [False]
    overflow = [r for r in got if r.route_reason == "whatsapp_tier"]
    assert len(overflow) == 2
    assert {r.status for r in overflow} <= {"deferred", "queued"}
    waiting = [r for r in overflow if r.status == "deferred"]
    rerouted = [r for r in overflow if r.status == "queued"]
    assert all(r.channel == "whatsapp" and r.batch is None for r in waiting)
    assert all(r.channel == "telegram" for r in rerouted)

    # The next day the waiting members go, within that day's capacity.
    released = await release_deferred(session, aid, now=NOW + timedelta(hours=25), policy=policy)
    assert len(released) == 1
    session.expire_all()
    assert not [r for r in (await rows(session, aid)).values() if r.status == "deferred"]


async def test_with_sms_overflow_the_tier_spills_to_sms(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    for _ in range(3):
        member = await make_member(session, unit=tree.booth_a1)
        await address(session, member, "whatsapp")
    aid = await announce(session, settings, tree.booth_a1.code)
    await publish(session, aid, now=NOW, policy=FanoutPolicy(whatsapp_daily_limit=1))
    channels = sorted(r.channel for r in (await rows(session, aid)).values())
    assert channels == ["sms", "sms", "whatsapp"]


async def test_tier_counts_recipients_over_the_rolling_day(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    members = []
    for _ in range(2):
        member = await make_member(session, unit=tree.booth_a1)
        await address(session, member, "whatsapp")
        members.append(member)
    policy = FanoutPolicy(whatsapp_daily_limit=2, overflow_to_sms=False)
    first = await announce(session, settings, tree.booth_a1.code)
    await publish(session, first, now=NOW, policy=policy)
    newcomer = await make_member(session, unit=tree.booth_a1)
    await address(session, newcomer, "whatsapp")
    second = await announce(session, settings, tree.booth_a1.code, now=NOW)
    await publish(session, second, now=NOW + timedelta(hours=1), policy=policy)
    got = await rows(session, second)
    # The two reached an hour ago take no new slot; the newcomer finds the tier full.
    assert all(got[m.id].status == "queued" for m in members)
    assert got[newcomer.id].status == "deferred"


async def test_batches_are_numbered_in_the_same_statement(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    for _ in range(7):
        member = await make_member(session, unit=tree.booth_b1)
        await address(session, member, "sms")
    aid = await announce(session, settings, tree.booth_b1.code)
    published = await publish(session, aid, now=NOW, policy=FanoutPolicy(batch_size=3))
    assert published.batches == range(0, 3)
    sizes = (
        await session.execute(
            text(
                "SELECT batch, count(*) FROM announcement_deliveries WHERE announcement_id = :a"
                " GROUP BY batch ORDER BY batch"
            ),
            {"a": aid},
        )
    ).all()
    assert [tuple(r) for r in sizes] == [(0, 3), (1, 3), (2, 1)]


async def test_publishing_twice_writes_nothing_more(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "sms")
    aid = await announce(session, settings, tree.booth_a1.code)
    first = await publish(session, aid, now=NOW, policy=FanoutPolicy())
    again = await publish(session, aid, now=NOW, policy=FanoutPolicy())
    assert (first.state, first.rows) == (PublishState.PUBLISHED, 1)
    assert again.state is PublishState.ALREADY and again.rows == 0
    assert again.batches == range(0, 1)  # still unsent: the caller re-enqueues it
    assert len(await rows(session, aid)) == 1


async def test_not_before_its_time_and_not_after_it_expired(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "sms")
    later = await announce(
        session, settings, tree.booth_a1.code, publish_at=NOW + timedelta(hours=1)
    )
    assert (
        await publish(session, later, now=NOW, policy=FanoutPolicy())
    ).state is PublishState.NOT_YET
    assert (
        await publish(session, later, now=NOW + timedelta(hours=1), policy=FanoutPolicy())
    ).state is PublishState.PUBLISHED
    short = await announce(
        session, settings, tree.booth_a1.code, expires_at=NOW + timedelta(minutes=30)
    )
    expired = await publish(session, short, now=NOW + timedelta(hours=1), policy=FanoutPolicy())
    assert expired.state is PublishState.EXPIRED
    assert await rows(session, short) == {}


async def test_demo_district_reaches_its_members_only(
    session: AsyncSession, settings: Settings
) -> None:
    aid = await announce(session, settings, "TN.CHN")
    await publish(session, aid, now=NOW, policy=FanoutPolicy())
    phones = set(
        (
            await session.execute(
                text(
                    "SELECT m.phone FROM announcement_deliveries d"
                    " JOIN members m ON m.id = d.member_id WHERE d.announcement_id = :a"
                ),
                {"a": aid},
            )
        ).scalars()
    )
    assert phones == {"+12025550102", "+12025550104", "+12025550105", "+12025550111",
                      "+12025550112", "+12025550113"}  # fmt: skip


async def test_publishing_waits_for_the_tier_lock_past_the_processes_lock_timeout(
    db_url: str, engine: AsyncEngine, settings: Settings
) -> None:
    """The worker's connections give up on a lock after a few seconds; a publish waiting
    for another publish's tier lock (up to ~20 s state-wide) must not."""
    bounded = make_engine(
        db_url,
        pool_size=1,
        timeouts=Timeouts(statement_seconds=5, lock_seconds=0.1, command_seconds=5),
    )
    factory = make_session_factory(bounded)
    try:
        async with factory() as session, session.begin():
            aid = await announce(session, settings, "TN.CHN")
        async with engine.connect() as other_publish:
            await other_publish.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('vck:whatsapp-tier'))")
            )
            async with factory() as session, session.begin():
                publishing = asyncio.create_task(
                    publish(session, aid, now=NOW, policy=FanoutPolicy())
                )
                await asyncio.sleep(0.5)
                assert not publishing.done()
                await other_publish.commit()
                published = await publishing
        assert (published.state, published.rows) == (PublishState.PUBLISHED, 6)
    finally:
        await bounded.dispose()


async def test_a_split_fanout_writes_what_one_statement_writes(
    session: AsyncSession, settings: Settings, tree: Tree
) -> None:
    """In member ranges on their own connections (parts > 1): exactly one row per member
    in scope, the same channels and tier ranks as one statement, batches of at most
    the batch size; what a crashed split attempt left is replaced, not doubled."""
    booths = (tree.booth_a1, tree.booth_a2, tree.booth_b1)
    expected = set()
    for n in range(24):
        member = await make_member(session, unit=booths[n % 3])
        expected.add(member.id)
        kind = n % 4
        if kind == 0:  # WhatsApp only, outside the window: a tier slot or waits
            await address(session, member, "whatsapp")
        elif kind == 1:  # WhatsApp and Telegram: Telegram beyond the tier
            await address(session, member, "whatsapp")
            await address(session, member, "telegram")
        elif kind == 2:
            await address(session, member, "sms")
        else:  # inside the window: free text, no slot
            await address(session, member, "whatsapp", last_inbound_at=NOW - timedelta(hours=1))
    stopped = await make_member(session, unit=tree.booth_a1)
    await address(session, stopped, "sms", opted_out_at=NOW)
    outside = await make_member(session)  # no unit in scope
    await address(session, outside, "sms")
    aid = await announce(session, settings, tree.state.code)
    await session.commit()

    def routes(found: dict[uuid.UUID, AnnouncementDelivery]) -> dict[uuid.UUID, tuple]:
        return {
            m: (r.channel, r.provider, r.address, r.via_template, r.route_reason, r.status,
                r.whatsapp_tier_at is not None)
            for m, r in found.items()
        }  # fmt: skip

    base = FanoutPolicy(whatsapp_daily_limit=4, overflow_to_sms=False, batch_size=2)
    split_policy = FanoutPolicy(
        whatsapp_daily_limit=4, overflow_to_sms=False, batch_size=2, parts=3, split_min_members=1
    )
    # a crashed split attempt: one range committed, the announcement still scheduled
    member = next(iter(expected))
    stray = text(
        "INSERT INTO announcement_deliveries (announcement_id, member_id, batch, channel,"
        " provider, address, language) VALUES (:a, :m, 0, 'sms', 'twilio', '+1', 'ta')"
    )
    await session.execute(stray, {"a": aid, "m": member})
    await session.commit()
    published = await publish(session, aid, now=NOW, policy=split_policy)
    await session.commit()
    assert published.state is PublishState.PUBLISHED and published.rows == len(expected)
    split_rows = await rows(session, aid)
    assert set(split_rows) == expected
    sizes = (
        await session.execute(
            text(
                "SELECT batch, count(*) FROM announcement_deliveries WHERE announcement_id = :a"
                " AND status = 'queued' GROUP BY batch"
            ),
            {"a": aid},
        )
    ).all()
    assert all(n <= 2 and batch in published.batches for batch, n in sizes)
    assert sum(n for _, n in sizes) == sum(1 for r in split_rows.values() if r.status == "queued")
    assert sum(1 for r in split_rows.values() if r.whatsapp_tier_at is not None) == 4
    split_routes = routes(split_rows)
    again = await publish(session, aid, now=NOW, policy=split_policy)
    assert again.state is PublishState.ALREADY and len(await rows(session, aid)) == len(expected)

    # the same announcement again in one statement
    await session.execute(text("DELETE FROM announcement_deliveries WHERE announcement_id = :a"),
                          {"a": aid})  # fmt: skip
    await session.execute(text("UPDATE announcements SET status = 'scheduled' WHERE id = :a"),
                          {"a": aid})  # fmt: skip
    await session.execute(stray, {"a": aid, "m": member})  # a split attempt died here
    await session.commit()
    session.expunge_all()
    single = await publish(session, aid, now=NOW, policy=base)
    await session.commit()
    assert single.rows == published.rows
    assert routes(await rows(session, aid)) == split_routes


async def test_a_split_whose_range_fails_writes_nothing_and_leaves_no_range_waiting(
    session: AsyncSession, settings: Settings, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ranges wait for each other's counts; one that fails must not leave the others
    waiting for ever. The announcement stays scheduled, with no rows."""
    for n in range(6):
        member = await make_member(session, unit=(tree.booth_a1, tree.booth_b1)[n % 2])
        await address(session, member, "sms")
    aid = await announce(session, settings, tree.state.code)
    await session.commit()
    failing = fanout.COUNTS_SQL.replace(
        "SELECT\n  count(*)",
        "SELECT\n  CASE WHEN CAST(:last AS boolean) THEN 1 / 0 END,\n  count(*)",
    )
    assert failing != fanout.COUNTS_SQL
    monkeypatch.setattr(fanout, "COUNTS_SQL", failing)
    policy = FanoutPolicy(parts=3, split_min_members=1)
    with pytest.raises(DBAPIError):
        async with asyncio.timeout(30):
            await publish(session, aid, now=NOW, policy=policy)
    await session.rollback()
    assert await rows(session, aid) == {}
    status = await session.scalar(text("SELECT status::text FROM announcements WHERE id = :a"),
                                  {"a": aid})  # fmt: skip
    assert status == "scheduled"
