"""Who may act where: officials, their positions and the units they answer for.

An official is a member with a current position (a ``member_units`` row with a
position and no ``left_at``) while their membership is active. A position's
``permissions`` (e.g. "verify_members", "announce") apply to the position's unit and
everything below it in the organisation tree — never above it or beside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.i18n import Language, local_name
from core.models.members import Member, MemberStatus, MemberUnit
from core.models.org import OrganizationUnit, Position, UnitType

VERIFY_MEMBERS = "verify_members"
ANNOUNCE = "announce"


@dataclass(frozen=True, slots=True)
class Role:
    unit_id: uuid.UUID
    unit_code: str
    unit_path: str
    unit_name: str
    position_name: str
    position_name_ta: str | None
    permissions: frozenset[str]


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: uuid.UUID
    code: str
    name: str
    type: UnitType
    path: str
    name_ta: str | None = None


def current_position(
    member_unit: Any = MemberUnit, position: Any = Position, member: Any = Member
) -> ColumnElement[bool]:
    """SQL condition on joined (MemberUnit, Position, Member) rows, or aliases of them:
    a position held now by an active member."""
    return and_(
        member_unit.position_id.is_not(None),
        member_unit.left_at.is_(None),
        member.status == MemberStatus.ACTIVE,
    )


PERMISSIONS_SQL = """ARRAY(
    SELECT DISTINCT jsonb_array_elements_text(position.permissions)
    FROM member_units AS held
    JOIN positions AS position ON position.id = held.position_id
    JOIN organization_units AS unit ON unit.id = held.unit_id
    JOIN members AS official ON official.id = held.member_id
    WHERE held.member_id = {member_id} AND held.left_at IS NULL
      AND official.status = 'active' AND unit.is_active IS NOT FALSE)"""
""":func:`permissions_of` as a plain SQL expression over a member id expression, for
the conversation engine's one statement per message (a test keeps the two equal)."""


def permission_scope(member_id: Any, permission: str) -> tuple[Select[Any], Any]:
    """``(query, unit)``: the paths of the units where ``member_id`` holds ``permission``,
    built on private aliases so it nests in any query; ``unit`` is the alias of those
    units, e.g. ``exists(query.where(OrganizationUnit.path.descendant_of(unit.path)))``."""
    unit = aliased(OrganizationUnit)
    member_unit = aliased(MemberUnit)
    position = aliased(Position)
    member = aliased(Member)
    query = (
        select(unit.path)
        .select_from(member_unit)
        .join(unit, unit.id == member_unit.unit_id)
        .join(position, position.id == member_unit.position_id)
        .join(member, member.id == member_unit.member_id)
        .where(
            member_unit.member_id == member_id,
            current_position(member_unit, position, member),
            position.permissions.contains([permission]),
            unit.is_active.is_not(False),
        )
    )
    return query, unit


async def official_roles(session: AsyncSession, member_id: uuid.UUID) -> list[Role]:
    """The member's current positions, highest unit first."""
    rows = await session.execute(
        select(OrganizationUnit, Position)
        .join(MemberUnit, MemberUnit.unit_id == OrganizationUnit.id)
        .join(Position, Position.id == MemberUnit.position_id)
        .join(Member, Member.id == MemberUnit.member_id)
        .where(
            MemberUnit.member_id == member_id,
            current_position(),
            OrganizationUnit.is_active.is_not(False),
        )
        .order_by(func.nlevel(OrganizationUnit.path), Position.level, OrganizationUnit.code)
    )
    return [
        Role(
            unit_id=unit.id,
            unit_code=unit.code,
            unit_path=unit.path,
            unit_name=unit.name,
            position_name=position.name,
            position_name_ta=position.name_ta,
            permissions=frozenset(position.permissions or ()),
        )
        for unit, position in rows
    ]


async def permissions_of(session: AsyncSession, member_id: uuid.UUID) -> frozenset[str]:
    """Every permission the member holds through a current position, anywhere."""
    return frozenset().union(
        *(role.permissions for role in await official_roles(session, member_id))
    )


async def can(
    session: AsyncSession, member_id: uuid.UUID, permission: str, target_unit_path: str
) -> bool:
    """True when the member holds ``permission`` on ``target_unit_path`` or on a unit
    above it."""
    held, unit = permission_scope(member_id, permission)
    return bool(
        await session.scalar(select(exists(held.where(unit.path.ancestor_of(target_unit_path)))))
    )


async def may_act(
    session: AsyncSession, official: uuid.UUID | None, permissions: tuple[str, ...], path: str
) -> bool:
    """True when ``official`` holds any of ``permissions`` on the unit at ``path`` or
    above it; ``None`` is the operator at the console, allowed anywhere."""
    if official is None:
        return True
    for permission in permissions:
        if await can(session, official, permission, path):
            return True
    return False


async def active_unit(session: AsyncSession, code: str) -> OrganizationUnit | None:
    """The active unit with ``code`` (spaces and case ignored)."""
    return await session.scalar(
        select(OrganizationUnit).where(
            OrganizationUnit.code == code.strip().upper(),
            OrganizationUnit.is_active.is_not(False),
        )
    )


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def units_within(
    session: AsyncSession,
    member_id: uuid.UUID,
    permission: str,
    code_prefix: str | None = None,
    limit: int = 50,
) -> list[UnitRef]:
    """Active units the member may act on with ``permission``: each unit where they hold
    it and every unit below, highest first. ``code_prefix`` narrows by unit code
    (case-insensitive), e.g. to pick a constituency inside a district."""
    held, scope = permission_scope(member_id, permission)
    held = held.where(OrganizationUnit.path.descendant_of(scope.path))
    query = select(OrganizationUnit).where(OrganizationUnit.is_active.is_not(False), exists(held))
    if code_prefix:
        query = query.where(OrganizationUnit.code.ilike(_like_prefix(code_prefix), escape="\\"))
    query = query.order_by(func.nlevel(OrganizationUnit.path), OrganizationUnit.code).limit(limit)
    units = await session.scalars(query)
    return [
        UnitRef(u.id, u.code, u.name, u.type, u.path, (u.metadata_ or {}).get("name_ta"))
        for u in units
    ]


async def unit_by_code(session: AsyncSession, code: str) -> OrganizationUnit | None:
    return await session.scalar(select(OrganizationUnit).where(OrganizationUnit.code == code))


def unit_label(unit: OrganizationUnit, language: Language) -> str:
    """The unit's name in ``language`` (Tamil names live in metadata)."""
    return local_name(unit.name, (unit.metadata_ or {}).get("name_ta"), language)
