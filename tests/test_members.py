"""core.services.members: signing up, the membership card, verification by officials."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.models import ChannelAddress, Member, MemberStatus, MemberUnit
from core.services import addresses, members
from core.services.members import VerifyStatus
from tests.factories import (
    give_position,
    make_member,
    make_official,
    make_position,
    make_tree,
    random_phone,
)

NOW = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
NUMBER = re.compile(r"VCK-QAA-\d{7}")


async def join(
    session: AsyncSession, settings: Settings, unit_id: uuid.UUID | str, **overrides: Any
) -> members.SignUpResult:
    values: dict[str, Any] = {
        "phone": random_phone(),
        "name": "Selvi Murugan",
        "name_is_tamil": False,
        "date_of_birth": date(1990, 8, 15),
        "gender": "female",
        "unit_id": unit_id,
        "language": "ta",
        "now": NOW,
    }
    values.update(overrides)
    return await members.sign_up(session, settings, **values)


async def test_sign_up_creates_a_pending_member_in_a_booth(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    phone = random_phone()
    result = await join(
        session,
        settings,
        tree.booth_a1.id,
        phone=phone,
        name="செல்வி முருகன்",
        name_is_tamil=True,
        pincode="600001",
        location=(13.0827, 80.2707),
        voter_id="ABC1234567",
        email="selvi@example.com",
        language="en",
    )
    assert result.created
    member = result.member
    assert member.status is MemberStatus.PENDING
    assert member.membership_number is not None and NUMBER.fullmatch(member.membership_number)
    assert member.phone == phone
    assert member.first_name == member.first_name_ta == "செல்வி முருகன்"
    assert member.district == "Alpha District"
    assert member.language == "en"
    assert (member.pincode, member.voter_id, member.email) == (
        "600001",
        "ABC1234567",
        "selvi@example.com",
    )
    assert member.joined_at == NOW and member.verified_at is None

    lat, lon = (
        await session.execute(
            text("SELECT ST_Y(geo_location), ST_X(geo_location) FROM members WHERE id = :id"),
            {"id": member.id},
        )
    ).one()
    assert (round(lat, 4), round(lon, 4)) == (13.0827, 80.2707)

    rows = list(await session.scalars(select(MemberUnit).where(MemberUnit.member_id == member.id)))
    assert len(rows) == 1
    assert (
        rows[0].unit_id == tree.booth_a1.id and rows[0].is_primary and rows[0].position_id is None
    )


async def test_sign_up_by_pin_code_lands_in_the_district(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    result = await join(session, settings, str(tree.district_b.id), pincode="605602")
    assert result.member.membership_number is not None
    assert result.member.membership_number.startswith("VCK-QBB-")
    assert result.member.district == "Beta District"
    assert result.member.first_name_ta is None


async def test_membership_numbers_are_unique_and_serial(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    first = (await join(session, settings, tree.booth_a1.id)).member.membership_number
    second = (await join(session, settings, tree.booth_a2.id)).member.membership_number
    assert first and second and first != second
    assert int(second[-7:]) > int(first[-7:])


async def test_a_taken_number_is_skipped(session: AsyncSession, settings: Settings) -> None:
    tree = await make_tree(session)
    serial = (await session.execute(text("SELECT nextval('membership_number_seq')"))).scalar_one()
    await make_member(session, membership_number=f"VCK-QAA-{serial + 1:07d}")
    result = await join(session, settings, tree.booth_a1.id)
    assert result.created and result.member.membership_number == f"VCK-QAA-{serial + 2:07d}"


async def test_signing_up_twice_returns_the_same_membership(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    phone = random_phone()
    first = await join(session, settings, tree.booth_a1.id, phone=phone)
    second = await join(session, settings, tree.booth_b1.id, phone=phone, name="Someone Else")
    assert first.created and not second.created
    assert second.member.id == first.member.id
    assert second.member.first_name == "Selvi Murugan"
    count = await session.scalar(
        select(func.count()).select_from(Member).where(Member.phone == phone)
    )
    assert count == 1


async def test_concurrent_sign_ups_for_one_phone_make_one_member(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with session_factory() as s, s.begin():
        tree = await make_tree(s)
    phone = random_phone()

    async def sign_up(unit_id: uuid.UUID) -> members.SignUpResult:
        async with session_factory() as s, s.begin():
            return await join(s, settings, unit_id, phone=phone)

    results = await asyncio.gather(
        *(sign_up(u) for u in (tree.booth_a1.id, tree.booth_a2.id, tree.booth_b1.id))
    )
    assert sorted(r.created for r in results) == [False, False, True]
    assert len({r.member.id for r in results}) == 1

    async with session_factory() as s:
        count = await s.scalar(
            select(func.count()).select_from(Member).where(Member.phone == phone)
        )
        units = await s.scalar(
            select(func.count())
            .select_from(MemberUnit)
            .where(MemberUnit.member_id == results[0].member.id)
        )
    assert count == 1 and units == 1


async def test_find_by_phone(session: AsyncSession, settings: Settings) -> None:
    member = await make_member(session)
    assert (await members.find_by_phone(session, member.phone)) is member
    assert await members.find_by_phone(session, random_phone()) is None


async def test_membership_summary(session: AsyncSession, settings: Settings) -> None:
    tree = await make_tree(session)
    member = (
        await join(session, settings, tree.booth_a1.id, name="முருகன்", name_is_tamil=True)
    ).member
    summary = await members.membership_summary(session, member.id)
    assert summary is not None
    assert summary.membership_number == member.membership_number
    assert summary.status is MemberStatus.PENDING
    assert summary.name == summary.name_ta == "முருகன்"
    assert (summary.unit_id, summary.unit_code, summary.unit_name) == (
        tree.booth_a1.id,
        tree.booth_a1.code,
        tree.booth_a1.name,
    )
    assert summary.unit_type == "booth"
    assert summary.district == "Alpha District"
    assert summary.language == "ta"
    assert summary.joined_at == NOW
    assert await members.membership_summary(session, tree.state.id) is None


async def test_set_language_changes_the_member_and_their_addresses(
    session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(session, language="ta")
    await addresses.link_member(
        session, "whatsapp", member.phone, member_id=member.id, phone=member.phone, now=NOW
    )
    await members.set_language(session, member.id, "en")
    await session.refresh(member)
    assert member.language == "en"
    row = await addresses.get(session, "whatsapp", member.phone)
    assert row is not None and row.language == "en"


# --- verification ---------------------------------------------------------------------


async def test_official_of_the_same_district_verifies(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a)
    member = (await join(session, settings, tree.booth_a1.id)).member
    later = NOW + timedelta(hours=1)

    result = await members.verify(
        session, member_id=member.id, official_member_id=official.id, now=later
    )

    assert result.ok and result.status is VerifyStatus.VERIFIED and result.name == "Selvi Murugan"
    await session.refresh(member)
    assert member.status is MemberStatus.ACTIVE
    assert member.verified_at == later and member.verified_by == official.id


async def test_official_of_another_district_is_refused(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_b)
    member = (await join(session, settings, tree.booth_a1.id)).member

    result = await members.verify(
        session, member_id=member.id, official_member_id=official.id, now=NOW
    )

    assert not result.ok and result.status is VerifyStatus.NOT_ALLOWED and result.member is None
    await session.refresh(member)
    assert member.status is MemberStatus.PENDING
    assert member.verified_at is None and member.verified_by is None


async def test_officials_below_or_without_the_permission_are_refused(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    member = (await join(session, settings, tree.constituency_a.id)).member
    booth_agent = await make_official(session, unit=tree.booth_a1)  # below the member's unit
    announcer = await make_official(session, unit=tree.district_a, permissions=["announce"])
    ordinary = await make_member(session, unit=tree.district_a)
    for who in (booth_agent, announcer, ordinary):
        result = await members.verify(
            session, member_id=member.id, official_member_id=who.id, now=NOW
        )
        assert result.status is VerifyStatus.NOT_ALLOWED
    await session.refresh(member)
    assert member.status is MemberStatus.PENDING


async def test_former_or_suspended_officials_are_refused(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    member = (await join(session, settings, tree.booth_a1.id)).member
    position = await make_position(session)
    former = await make_member(session, unit=tree.district_a)
    await give_position(
        session, former, unit=tree.district_a, position=position, left_at=NOW - timedelta(days=1)
    )
    suspended = await make_official(session, unit=tree.district_a, status=MemberStatus.SUSPENDED)
    for who in (former, suspended):
        result = await members.verify(
            session, member_id=member.id, official_member_id=who.id, now=NOW
        )
        assert result.status is VerifyStatus.NOT_ALLOWED


async def test_state_official_verifies_anywhere_below(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.state)
    member = (await join(session, settings, tree.booth_b1.id)).member
    result = await members.verify(
        session, member_id=member.id, official_member_id=official.id, now=NOW
    )
    assert result.ok


async def test_verifying_twice_or_an_unknown_member(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a)
    member = (await join(session, settings, tree.booth_a1.id)).member
    assert (
        await members.verify(session, member_id=member.id, official_member_id=official.id, now=NOW)
    ).ok
    again = await members.verify(
        session, member_id=member.id, official_member_id=official.id, now=NOW
    )
    assert again.status is VerifyStatus.NOT_PENDING
    missing = await members.verify(
        session, member_id=tree.state.id, official_member_id=official.id, now=NOW
    )
    assert missing.status is VerifyStatus.NOT_FOUND


async def test_pending_in_scope_lists_only_pending_members_within_oldest_first(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a)
    newer = (await join(session, settings, tree.booth_a2.id, now=NOW + timedelta(minutes=5))).member
    older = (await join(session, settings, tree.booth_a1.id, now=NOW)).member
    await join(session, settings, tree.booth_b1.id)  # another district
    await make_member(session, unit=tree.booth_a1, status=MemberStatus.ACTIVE)  # already active

    pending = await members.pending_in_scope(session, official.id)
    assert [p.member_id for p in pending] == [older.id, newer.id]
    assert (
        pending[0].unit_code == tree.booth_a1.code
        and pending[0].membership_number == older.membership_number
    )
    assert [p.member_id for p in await members.pending_in_scope(session, official.id, limit=1)] == [
        older.id
    ]

    booth_agent = await make_official(session, unit=tree.booth_a2)  # sees only booth 2
    assert [p.member_id for p in await members.pending_in_scope(session, booth_agent.id)] == [
        newer.id
    ]


async def test_officials_to_notify_nearest_first(session: AsyncSession, settings: Settings) -> None:
    tree = await make_tree(session)
    state = await make_official(session, unit=tree.state, language="en")
    district = await make_official(session, unit=tree.district_a)
    constituency = await make_official(session, unit=tree.constituency_a)
    await make_official(session, unit=tree.district_b)  # beside
    await make_official(session, unit=tree.booth_a2)  # below the constituency, beside booth 1
    await make_official(session, unit=tree.district_a, permissions=["announce"])  # cannot verify
    # the district official also holds a state position: listed once, nearest unit
    await give_position(session, district, unit=tree.state, position=await make_position(session))
    await addresses.link_member(
        session, "telegram", "5551", member_id=district.id, phone=district.phone, now=NOW
    )
    await addresses.touch_inbound(session, "telegram", "5551", now=NOW)
    await addresses.link_member(
        session, "whatsapp", district.phone, member_id=district.id, phone=district.phone, now=NOW
    )
    await addresses.link_member(
        session, "sms", district.phone, member_id=district.id, phone=district.phone, now=NOW
    )
    await addresses.opt_out(session, "sms", district.phone, now=NOW)

    found = await members.officials_to_notify(session, tree.booth_a1.id)

    assert [o.member_id for o in found] == [constituency.id, district.id, state.id]
    by_id = {o.member_id: o for o in found}
    assert by_id[district.id].unit_code == tree.district_a.code
    assert [(a.channel, a.address) for a in by_id[district.id].addresses] == [
        ("telegram", "5551"),
        ("whatsapp", district.phone),
    ]
    assert by_id[district.id].addresses[0].last_inbound_at == NOW
    assert by_id[state.id].language == "en" and by_id[state.id].addresses == ()
    assert by_id[state.id].phone == state.phone
    assert await members.officials_to_notify(session, str(tree.state.id)) == [
        o for o in await members.officials_to_notify(session, tree.state.id)
    ]


async def test_channel_addresses_untouched_by_sign_up(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    before = await session.scalar(select(func.count()).select_from(ChannelAddress))
    await join(session, settings, tree.booth_a1.id)
    assert await session.scalar(select(func.count()).select_from(ChannelAddress)) == before
