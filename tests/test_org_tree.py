"""The organisation tree: ltree subtree and ancestor queries, and its constraints."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Member, MemberUnit, OrganizationUnit, UnitType
from core.seed import constituencies
from core.seed.demo import DEMO_BOOTHS, DEMO_PEOPLE


async def _codes(session: AsyncSession, where) -> list[str]:
    return list(
        await session.scalars(
            select(OrganizationUnit.code).where(where).order_by(OrganizationUnit.code)
        )
    )


async def test_a_district_subtree_is_exactly_that_district(session: AsyncSession):
    codes = await _codes(session, OrganizationUnit.path.descendant_of("TN.CHN"))
    chennai_acs = [ac for ac in constituencies() if ac.district == "CHN"]
    chennai_booths = [b for b in DEMO_BOOTHS if b.code.startswith("TN.CHN.")]
    assert len(chennai_acs) == 16
    assert len(codes) == 1 + len(chennai_acs) + len(chennai_booths)
    assert codes[0] == "TN.CHN"
    assert all(c.startswith("TN.CHN.") for c in codes[1:])
    assert "TN.VPM.AC074" not in codes and "TN" not in codes

    # Same answer in raw SQL, as other modules write it.
    raw = await session.scalar(
        text("SELECT count(*) FROM organization_units WHERE path <@ 'TN.CHN'")
    )
    assert raw == len(codes)


async def test_a_constituency_subtree_holds_its_booths(session: AsyncSession):
    codes = await _codes(session, OrganizationUnit.path.descendant_of("TN.VPM.AC074"))
    assert codes == [
        "TN.VPM.AC074",
        "TN.VPM.AC074.B0001",
        "TN.VPM.AC074.B0002",
        "TN.VPM.AC074.B0003",
    ]


async def test_the_ancestors_of_a_booth(session: AsyncSession):
    codes = await _codes(session, OrganizationUnit.path.ancestor_of("TN.CHN.AC018.B0001"))
    assert codes == ["TN", "TN.CHN", "TN.CHN.AC018", "TN.CHN.AC018.B0001"]
    raw = list(
        await session.scalars(
            text(
                "SELECT code FROM organization_units WHERE path @> 'TN.VPM.AC074.B0002'"
                " ORDER BY nlevel(path)"
            )
        )
    )
    assert raw == ["TN", "TN.VPM", "TN.VPM.AC074", "TN.VPM.AC074.B0002"]


async def test_parent_ids_agree_with_paths(session: AsyncSession):
    mismatched = await session.scalar(
        text(
            """
            SELECT count(*) FROM organization_units c
            LEFT JOIN organization_units p ON p.id = c.parent_id
            WHERE c.code <> c.path::text
               OR (nlevel(c.path) = 1 AND c.parent_id IS NOT NULL)
               OR (nlevel(c.path) > 1
                   AND p.path IS DISTINCT FROM subpath(c.path, 0, nlevel(c.path) - 1))
            """
        )
    )
    assert mismatched == 0


async def test_members_of_a_district_through_the_tree(session: AsyncSession):
    phones = set(
        await session.scalars(
            select(Member.phone)
            .join(MemberUnit, MemberUnit.member_id == Member.id)
            .join(OrganizationUnit, OrganizationUnit.id == MemberUnit.unit_id)
            .where(MemberUnit.is_primary, OrganizationUnit.path.descendant_of("TN.VPM"))
        )
    )
    assert phones == {p.phone for p in DEMO_PEOPLE if p.unit.startswith("TN.VPM")}


async def test_unit_codes_are_unique(session: AsyncSession):
    state = await session.scalar(select(OrganizationUnit).where(OrganizationUnit.code == "TN"))
    assert state is not None
    session.add(
        OrganizationUnit(
            name="Chennai again",
            code="TN.CHN",
            type=UnitType.DISTRICT,
            path="TN.CHN",
            parent_id=state.id,
        )
    )
    with pytest.raises(IntegrityError):
        await session.flush()
    await session.rollback()


async def test_a_member_unit_must_point_at_a_real_unit(session: AsyncSession):
    member_id = await session.scalar(select(Member.id).limit(1))
    session.add(MemberUnit(member_id=member_id, unit_id=uuid.uuid4(), is_primary=False))
    with pytest.raises(IntegrityError):
        await session.flush()
    await session.rollback()
    count = await session.scalar(select(func.count()).select_from(MemberUnit))
    assert count == len(DEMO_PEOPLE) + sum(1 for p in DEMO_PEOPLE if p.position)
