"""core.services.officials: an official acts on their own unit and below — never above
or beside."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import MemberStatus, UnitType
from core.services import officials
from tests.factories import (
    give_position,
    make_member,
    make_official,
    make_position,
    make_tree,
    make_unit,
)

NOW = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


async def test_official_roles_are_current_positions(session: AsyncSession) -> None:
    tree = await make_tree(session)
    secretary = await make_position(
        session,
        name="District Secretary",
        name_ta="மாவட்டச் செயலாளர்",
        permissions=["announce", "verify_members"],
    )
    official = await make_official(session, unit=tree.district_a, position=secretary)
    old = await make_position(session, unit_type=UnitType.STATE, name="Former Post")
    await give_position(session, official, unit=tree.state, position=old, left_at=NOW)

    roles = await officials.official_roles(session, official.id)

    assert roles == [
        officials.Role(
            unit_id=tree.district_a.id,
            unit_code=tree.district_a.code,
            unit_path=tree.district_a.path,
            unit_name="Alpha District",
            position_name="District Secretary",
            position_name_ta="மாவட்டச் செயலாளர்",
            permissions=frozenset({"announce", "verify_members"}),
        )
    ]
    assert await officials.permissions_of(session, official.id) == {"announce", "verify_members"}


async def test_ordinary_and_suspended_members_have_no_roles(session: AsyncSession) -> None:
    tree = await make_tree(session)
    ordinary = await make_member(session, unit=tree.booth_a1)
    suspended = await make_official(session, unit=tree.district_a, status=MemberStatus.SUSPENDED)
    for who in (ordinary, suspended):
        assert await officials.official_roles(session, who.id) == []
        assert await officials.permissions_of(session, who.id) == frozenset()
        assert not await officials.can(session, who.id, "verify_members", tree.booth_a1.path)


async def test_the_engines_permissions_sql_agrees_with_permissions_of(
    session: AsyncSession,
) -> None:
    """The conversation engine reads permissions with plain SQL in its one statement per
    message; it must say what :func:`officials.permissions_of` says, for everyone."""
    tree = await make_tree(session)
    closed = await make_unit(
        session, type=UnitType.BOOTH, parent=tree.constituency_a, is_active=False
    )
    secretary = await make_position(session, permissions=["announce", "verify_members"])
    official = await make_official(session, unit=tree.district_a, position=secretary)
    reporter = await make_position(session, permissions=["view_reports", "announce"])
    await give_position(session, official, unit=tree.state, position=reporter)
    former = await make_official(session, unit=tree.district_b, permissions=["announce"])
    left = await make_position(session, permissions=["verify_members"])
    await give_position(session, former, unit=tree.state, position=left, left_at=NOW)
    in_closed_unit = await make_official(session, unit=closed, permissions=["announce"])
    suspended = await make_official(session, unit=tree.district_a, status=MemberStatus.SUSPENDED)
    ordinary = await make_member(session, unit=tree.booth_a1)
    statement = text(f"SELECT {officials.PERMISSIONS_SQL.format(member_id=':member_id')}")

    for who in (official, former, in_closed_unit, suspended, ordinary):
        held = await session.scalar(statement, {"member_id": who.id})
        assert frozenset(held) == await officials.permissions_of(session, who.id)
    assert frozenset(await session.scalar(statement, {"member_id": official.id})) == {
        "announce",
        "verify_members",
        "view_reports",
    }


async def test_can_acts_on_own_unit_and_below_only(session: AsyncSession) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.constituency_a, permissions=["announce"])

    for unit in (tree.constituency_a, tree.booth_a1, tree.booth_a2):
        assert await officials.can(session, official.id, "announce", unit.path), unit.code
    for unit in (tree.state, tree.district_a, tree.district_b, tree.constituency_b, tree.booth_b1):
        assert not await officials.can(session, official.id, "announce", unit.path), unit.code
    assert not await officials.can(session, official.id, "verify_members", tree.booth_a1.path)


async def test_can_does_not_match_on_path_prefix_text(session: AsyncSession) -> None:
    """'QT1.QAA' must not cover 'QT1.QAAX': ltree compares labels, not characters."""
    tree = await make_tree(session)
    lookalike = await make_unit(session, type=UnitType.DISTRICT, parent=tree.state, label="QAAX")
    official = await make_official(session, unit=tree.district_a)
    assert not await officials.can(session, official.id, "verify_members", lookalike.path)


async def test_units_within_never_above_or_beside(session: AsyncSession) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a, permissions=["announce"])

    units = await officials.units_within(session, official.id, "announce")

    assert [u.code for u in units] == [
        tree.district_a.code,
        tree.constituency_a.code,
        tree.booth_a1.code,
        tree.booth_a2.code,
    ]
    assert units[0] == officials.UnitRef(
        tree.district_a.id,
        tree.district_a.code,
        "Alpha District",
        UnitType.DISTRICT,
        tree.district_a.path,
    )
    assert all(u.path.startswith(tree.district_a.path) for u in units)
    assert await officials.units_within(session, official.id, "verify_members") == []


async def test_units_within_filters_by_code_prefix_and_limit(session: AsyncSession) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.state, permissions=["announce"])

    booths = await officials.units_within(
        session, official.id, "announce", code_prefix=tree.constituency_b.code
    )
    assert [u.code for u in booths] == [tree.constituency_b.code, tree.booth_b1.code]
    lower = await officials.units_within(
        session, official.id, "announce", code_prefix=tree.district_a.code.lower()
    )
    assert len(lower) == 4
    assert await officials.units_within(session, official.id, "announce", code_prefix="TN") == []
    assert await officials.units_within(session, official.id, "announce", code_prefix="%") == []
    assert len(await officials.units_within(session, official.id, "announce", limit=3)) == 3


async def test_units_within_skips_inactive_units(session: AsyncSession) -> None:
    tree = await make_tree(session)
    closed = await make_unit(
        session, type=UnitType.BOOTH, parent=tree.constituency_a, is_active=False
    )
    official = await make_official(session, unit=tree.district_a, permissions=["announce"])
    codes = [u.code for u in await officials.units_within(session, official.id, "announce")]
    assert closed.code not in codes and tree.booth_a1.code in codes


async def test_several_positions_widen_the_scope(session: AsyncSession) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.booth_a1, permissions=["announce"])
    await give_position(
        session,
        official,
        unit=tree.constituency_b,
        position=await make_position(session, permissions=["announce"]),
    )
    codes = {u.code for u in await officials.units_within(session, official.id, "announce")}
    assert codes == {tree.booth_a1.code, tree.constituency_b.code, tree.booth_b1.code}
