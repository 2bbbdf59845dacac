"""Small factories for the rows tests need, taking keyword arguments.

Tests build their own organisation tree under a root of its own (``QT…``), so what the
demo data contains (the ``TN`` tree, its officials) never changes their outcome.
Everything is flushed, nothing committed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Member, MemberStatus, MemberUnit, OrganizationUnit, Position, UnitType

_serial = itertools.count(1)


def random_phone() -> str:
    """A valid-looking Indian mobile (E.164); the demo people are on +1 202 555 01xx."""
    return f"+9170{random.randrange(10**8):08d}"


async def make_unit(
    session: AsyncSession,
    *,
    type: UnitType,
    parent: OrganizationUnit | None = None,
    label: str | None = None,
    name: str | None = None,
    is_active: bool = True,
) -> OrganizationUnit:
    """A unit whose code is its ltree path: ``parent.path + '.' + label``."""
    label = label or f"Q{next(_serial):05d}"
    path = f"{parent.path}.{label}" if parent else label
    unit = OrganizationUnit(
        name=name or f"{type.value.title()} {label}",
        code=path,
        type=type,
        path=path,
        parent_id=parent.id if parent else None,
        is_active=is_active,
    )
    session.add(unit)
    await session.flush()
    return unit


@dataclass
class Tree:
    """QTn ─┬─ QAA (district) ── AC1 (constituency) ─┬─ B1 (booth)
    │                                         └─ B2 (booth)
    └─ QBB (district) ── AC1 (constituency) ── B1 (booth)"""

    state: OrganizationUnit
    district_a: OrganizationUnit
    constituency_a: OrganizationUnit
    booth_a1: OrganizationUnit
    booth_a2: OrganizationUnit
    district_b: OrganizationUnit
    constituency_b: OrganizationUnit
    booth_b1: OrganizationUnit


async def make_tree(session: AsyncSession, *, root: str | None = None) -> Tree:
    state = await make_unit(
        session, type=UnitType.STATE, label=root or f"QT{next(_serial)}", name="Test State"
    )
    district_a = await make_unit(
        session, type=UnitType.DISTRICT, parent=state, label="QAA", name="Alpha District"
    )
    constituency_a = await make_unit(
        session, type=UnitType.CONSTITUENCY, parent=district_a, label="AC001", name="Alpha North"
    )
    booth_a1 = await make_unit(session, type=UnitType.BOOTH, parent=constituency_a, label="B0001")
    booth_a2 = await make_unit(session, type=UnitType.BOOTH, parent=constituency_a, label="B0002")
    district_b = await make_unit(
        session, type=UnitType.DISTRICT, parent=state, label="QBB", name="Beta District"
    )
    constituency_b = await make_unit(
        session, type=UnitType.CONSTITUENCY, parent=district_b, label="AC002", name="Beta South"
    )
    booth_b1 = await make_unit(session, type=UnitType.BOOTH, parent=constituency_b, label="B0001")
    return Tree(
        state,
        district_a,
        constituency_a,
        booth_a1,
        booth_a2,
        district_b,
        constituency_b,
        booth_b1,
    )


async def make_position(
    session: AsyncSession,
    *,
    unit_type: UnitType = UnitType.DISTRICT,
    permissions: Iterable[str] = ("verify_members",),
    name: str | None = None,
    name_ta: str | None = None,
    level: int = 4,
) -> Position:
    position = Position(
        name=name or f"Test Position {next(_serial)}",
        name_ta=name_ta,
        level=level,
        unit_type=unit_type,
        permissions=list(permissions),
    )
    session.add(position)
    await session.flush()
    return position


async def make_member(
    session: AsyncSession,
    *,
    unit: OrganizationUnit | None = None,
    phone: str | None = None,
    first_name: str = "Test",
    last_name: str | None = "Member",
    status: MemberStatus = MemberStatus.ACTIVE,
    language: str = "ta",
    membership_number: str | None = None,
    joined_at: datetime | None = None,
) -> Member:
    """A member, with a primary ``member_units`` row when ``unit`` is given."""
    member = Member(
        first_name=first_name,
        last_name=last_name,
        phone=phone or random_phone(),
        status=status,
        language=language,
        membership_number=membership_number,
    )
    if joined_at is not None:
        member.joined_at = joined_at
    session.add(member)
    await session.flush()
    if unit is not None:
        session.add(MemberUnit(member_id=member.id, unit_id=unit.id, is_primary=True))
        await session.flush()
    return member


async def give_position(
    session: AsyncSession,
    member: Member,
    *,
    unit: OrganizationUnit,
    position: Position,
    left_at: datetime | None = None,
) -> MemberUnit:
    row = MemberUnit(
        member_id=member.id,
        unit_id=unit.id,
        position_id=position.id,
        is_primary=False,
        left_at=left_at,
    )
    session.add(row)
    await session.flush()
    return row


async def make_official(
    session: AsyncSession,
    *,
    unit: OrganizationUnit,
    permissions: Iterable[str] = ("verify_members",),
    position: Position | None = None,
    status: MemberStatus = MemberStatus.ACTIVE,
    phone: str | None = None,
    language: str = "ta",
) -> Member:
    """An active member of ``unit`` holding a position there with ``permissions``."""
    member = await make_member(
        session, unit=unit, phone=phone, status=status, language=language, first_name="Official"
    )
    position = position or await make_position(
        session, unit_type=unit.type, permissions=permissions
    )
    await give_position(session, member, unit=unit, position=position)
    return member
