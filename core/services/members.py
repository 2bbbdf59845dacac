"""Members: signing up, the membership card, language, verification by officials.

Membership numbers look like ``VCK-CHN-0001234``: ``VCK``, the three-letter code of the
member's district (the second label of their unit's ltree path, ``TN.CHN.AC018.B0001``
→ ``CHN``), and seven digits from the PostgreSQL sequence ``membership_number_seq``
(unique across the state, never reused; more digits once it passes 9,999,999). The
number stays the same when a member later moves district. Whoever loads members with
numbers of their own (an import, the demo data) should ``setval`` the sequence past
them; until then :func:`sign_up` skips any number already taken.

Nothing commits: the caller commits, then sends any message (e.g. to the officials of
:func:`officials_to_notify`).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.config import Settings
from core.db import driver_of
from core.i18n import Language
from core.models.members import Member, MemberStatus, MemberUnit, membership_number_seq
from core.models.messaging import ChannelAddress
from core.models.org import OrganizationUnit, Position, UnitType
from core.security import aadhaar_key
from core.services import officials
from core.services.officials import VERIFY_MEMBERS


@dataclass(frozen=True, slots=True)
class SignUpResult:
    member: Member
    created: bool
    """False when the phone already had a membership: ``member`` is that one."""


@dataclass(frozen=True, slots=True)
class MembershipSummary:
    member_id: uuid.UUID
    membership_number: str | None
    status: MemberStatus
    name: str
    name_ta: str | None
    unit_id: uuid.UUID | None
    unit_code: str | None
    unit_name: str | None
    unit_type: UnitType | None
    district: str | None
    language: Language
    joined_at: datetime | None
    verified_at: datetime | None
    unit_name_ta: str | None = None


class VerifyStatus(enum.StrEnum):
    VERIFIED = "verified"
    NOT_ALLOWED = "not_allowed"
    """The official has no "verify_members" position over the member's unit."""
    NOT_FOUND = "not_found"
    NOT_PENDING = "not_pending"
    """Already verified, or suspended/expelled/resigned: nothing changed."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    status: VerifyStatus
    member: Member | None = None
    """Set when the official may see the member (VERIFIED, NOT_PENDING)."""

    @property
    def ok(self) -> bool:
        return self.status is VerifyStatus.VERIFIED

    @property
    def name(self) -> str | None:
        return _full_name(self.member) if self.member is not None else None


@dataclass(frozen=True, slots=True)
class PendingMember:
    member_id: uuid.UUID
    membership_number: str | None
    name: str
    unit_code: str
    unit_name: str
    joined_at: datetime | None
    unit_name_ta: str | None = None


@dataclass(frozen=True, slots=True)
class NotifyAddress:
    channel: Channel
    address: str
    last_inbound_at: datetime | None
    """For WhatsApp: free-form text only within 24 hours of this."""


@dataclass(frozen=True, slots=True)
class OfficialToNotify:
    member_id: uuid.UUID
    phone: str
    language: Language
    unit_code: str
    """The unit in which they hold "verify_members" (the nearest one, if several)."""
    addresses: tuple[NotifyAddress, ...]
    """Reachable addresses (no STOP, no consent refusal), most recently used first.
    Empty when they never wrote to the bot: fall back to SMS on ``phone``."""


NUMBER_TRIES = 50


def membership_number(district_code: str, serial: int) -> str:
    """``VCK-<district code>-<serial, at least 7 digits>``, e.g. ``VCK-CHN-0001234``."""
    return f"VCK-{district_code}-{serial:07d}"


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _full_name(member: Member) -> str:
    return " ".join(part for part in (member.first_name, member.last_name) if part)


async def find_by_phone(session: AsyncSession, phone: str) -> Member | None:
    """The member with this E.164 phone, if any."""
    return await session.scalar(select(Member).where(Member.phone == phone))


async def _district_of(session: AsyncSession, unit: OrganizationUnit) -> tuple[str, str | None]:
    """(three-letter code, district name) for a unit at district level or below."""
    labels = unit.path.split(".")
    if len(labels) < 2:
        raise ValueError(f"unit {unit.code} is above district level; sign up needs a district")
    district_path = ".".join(labels[:2])
    name = await session.scalar(
        select(OrganizationUnit.name).where(OrganizationUnit.path == district_path)
    )
    return labels[1].upper(), name


async def sign_up(
    session: AsyncSession,
    settings: Settings,
    *,
    phone: str,
    name: str,
    name_is_tamil: bool,
    date_of_birth: date,
    gender: str | None,
    unit_id: uuid.UUID | str,
    language: Language | str,
    now: datetime,
    pincode: str | None = None,
    location: tuple[float, float] | None = None,
    voter_id: str | None = None,
    email: str | None = None,
    aadhaar: str | None = None,
) -> SignUpResult:
    """Create a pending membership for ``phone`` (E.164) in ``unit_id`` (a booth, or the
    district when the member gave a PIN code), with a new membership number and a
    primary ``member_units`` row. ``location`` is (latitude, longitude).

    If the phone is already a member — also when two sign-ups for it race — returns the
    existing membership with ``created=False`` and changes nothing. Inputs are expected
    parsed (core.validation, core.phones); ``aadhaar``, if ever asked for, is stored only
    as a keyed HMAC and its last four digits (FACTS.md)."""
    existing = await find_by_phone(session, phone)
    if existing is not None:
        return SignUpResult(existing, created=False)

    lang = Language(language)
    unit = await session.get(OrganizationUnit, _as_uuid(unit_id))
    if unit is None:
        raise ValueError(f"no organisation unit {unit_id}")
    district_code, district_name = await _district_of(session, unit)
    values: dict[str, object] = {
        "first_name": name,
        "first_name_ta": name if name_is_tamil else None,
        "date_of_birth": date_of_birth,
        "gender": gender,
        "phone": phone,
        "email": email,
        "district": district_name,
        "pincode": pincode,
        "voter_id": voter_id,
        "status": MemberStatus.PENDING,
        "language": lang.value,
        "joined_at": now,
        "created_at": now,
        "updated_at": now,
    }
    if location is not None:
        latitude, longitude = location
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError("location out of range")
        values["geo_location"] = func.ST_SetSRID(func.ST_MakePoint(longitude, latitude), 4326)
    if aadhaar is not None:
        values["aadhar_hash"], values["aadhar_last4"] = aadhaar_key(
            settings.secret_key.get_secret_value(), aadhaar
        )

    for _ in range(NUMBER_TRIES):
        serial: int = (
            await session.execute(select(membership_number_seq.next_value()))
        ).scalar_one()
        values["membership_number"] = membership_number(district_code, serial)
        # No conflict target: a clash on the phone *or* on the number inserts nothing.
        member_id = await session.scalar(
            insert(Member).values(**values).on_conflict_do_nothing().returning(Member.id)
        )
        if member_id is not None:
            break
        winner = await find_by_phone(session, phone)
        if winner is not None:  # another sign-up for this phone committed first
            return SignUpResult(winner, created=False)
        # The number was already taken (members imported or loaded with their own
        # numbers): draw the next one.
    else:
        raise RuntimeError(
            "no free membership number: set membership_number_seq past the imported numbers"
        )

    session.add(MemberUnit(member_id=member_id, unit_id=unit.id, is_primary=True, joined_at=now))
    await session.flush()
    member = await session.get(Member, member_id)
    assert member is not None
    return SignUpResult(member, created=True)


async def _primary_unit(session: AsyncSession, member_id: uuid.UUID) -> OrganizationUnit | None:
    return await session.scalar(
        select(OrganizationUnit)
        .join(MemberUnit, MemberUnit.unit_id == OrganizationUnit.id)
        .where(
            MemberUnit.member_id == member_id,
            MemberUnit.is_primary.is_(True),
            MemberUnit.left_at.is_(None),
        )
        .order_by(MemberUnit.joined_at.desc())
        .limit(1)
    )


_SUMMARY = """
SELECT m.id AS member_id, m.membership_number, coalesce(m.status::text, 'pending') AS status,
       concat_ws(' ', nullif(m.first_name, ''), nullif(m.last_name, '')) AS name,
       m.first_name_ta AS name_ta, m.district, m.language, m.joined_at, m.verified_at,
       u.id AS unit_id, u.code AS unit_code, u.name AS unit_name,
       u.metadata ->> 'name_ta' AS unit_name_ta, u.type::text AS unit_type
FROM members AS m
LEFT JOIN LATERAL (
    SELECT ou.id, ou.code, ou.name, ou.metadata, ou.type
    FROM member_units AS mu JOIN organization_units AS ou ON ou.id = mu.unit_id
    WHERE mu.member_id = m.id AND mu.is_primary AND mu.left_at IS NULL
    ORDER BY mu.joined_at DESC LIMIT 1
) AS u ON true
WHERE m.id = $1
"""
"""A :class:`MembershipSummary`'s fields, by name."""


async def summary_of(pg: Any, member_id: uuid.UUID) -> MembershipSummary | None:
    """What the member's card shows, in one statement on the driver connection ``pg``
    (the menu's "My membership" asks it); None for an unknown id."""
    row = await pg.fetchrow(_SUMMARY, member_id)
    if row is None:
        return None
    unit_type = row["unit_type"]
    return MembershipSummary(
        **{
            **row,
            "status": MemberStatus(row["status"]),
            "language": Language(row["language"]),
            "unit_type": UnitType(unit_type) if unit_type else None,
        }
    )


async def membership_summary(
    session: AsyncSession, member_id: uuid.UUID
) -> MembershipSummary | None:
    """:func:`summary_of` in the session's transaction (its changes flushed first)."""
    await session.flush()
    return await summary_of(await driver_of(session), member_id)


async def set_language(
    session: AsyncSession, member_id: uuid.UUID, language: Language | str
) -> None:
    """The language every message to the member uses, on all their addresses too."""
    lang = Language(language).value
    await session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(language=lang, updated_at=func.now())
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(
        update(ChannelAddress)
        .where(ChannelAddress.member_id == member_id)
        .values(language=lang, updated_at=func.now())
        .execution_options(synchronize_session="fetch")
    )


async def verify(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    official_member_id: uuid.UUID,
    now: datetime,
) -> VerifyResult:
    """An official verifies a pending member: status active, verified_at, verified_by.

    Allowed only to an official holding "verify_members" in the member's primary unit or
    a unit above it — never to an official of another district, nor to the member
    themselves. A refusal changes nothing."""
    member = await session.get(Member, member_id, with_for_update=True)
    if member is None:
        return VerifyResult(VerifyStatus.NOT_FOUND)
    unit = await _primary_unit(session, member_id)
    if (
        unit is None
        or member_id == official_member_id
        or not await officials.can(session, official_member_id, VERIFY_MEMBERS, unit.path)
    ):
        return VerifyResult(VerifyStatus.NOT_ALLOWED)
    if member.status != MemberStatus.PENDING:
        return VerifyResult(VerifyStatus.NOT_PENDING, member)
    member.status = MemberStatus.ACTIVE
    member.verified_at = now
    member.verified_by = official_member_id
    member.updated_at = now
    await session.flush()
    return VerifyResult(VerifyStatus.VERIFIED, member)


async def pending_in_scope(
    session: AsyncSession, official_member_id: uuid.UUID, limit: int = 10
) -> list[PendingMember]:
    """Pending members this official may verify, oldest first."""
    held, scope = officials.permission_scope(official_member_id, VERIFY_MEMBERS)
    rows = await session.execute(
        select(Member, OrganizationUnit)
        .join(MemberUnit, MemberUnit.member_id == Member.id)
        .join(OrganizationUnit, OrganizationUnit.id == MemberUnit.unit_id)
        .where(
            Member.status == MemberStatus.PENDING,
            Member.id != official_member_id,
            MemberUnit.is_primary.is_(True),
            MemberUnit.left_at.is_(None),
            exists(held.where(OrganizationUnit.path.descendant_of(scope.path))),
        )
        .order_by(Member.joined_at, Member.id)
        .limit(limit)
    )
    return [
        PendingMember(
            member_id=member.id,
            membership_number=member.membership_number,
            name=_full_name(member),
            unit_code=unit.code,
            unit_name=unit.name,
            joined_at=member.joined_at,
            unit_name_ta=(unit.metadata_ or {}).get("name_ta"),
        )
        for member, unit in rows
    ]


async def officials_to_notify(
    session: AsyncSession, unit_id: uuid.UUID | str
) -> list[OfficialToNotify]:
    """Officials who may verify a new member of ``unit_id``: "verify_members" holders in
    that unit or above it, nearest unit first, each once."""
    target = await session.get(OrganizationUnit, _as_uuid(unit_id))
    if target is None:
        return []
    rows = await session.execute(
        select(Member.id, Member.phone, Member.language, OrganizationUnit.code)
        .select_from(MemberUnit)
        .join(OrganizationUnit, OrganizationUnit.id == MemberUnit.unit_id)
        .join(Position, Position.id == MemberUnit.position_id)
        .join(Member, Member.id == MemberUnit.member_id)
        .where(
            officials.current_position(),
            Position.permissions.contains([VERIFY_MEMBERS]),
            OrganizationUnit.is_active.is_not(False),
            OrganizationUnit.path.ancestor_of(target.path),
        )
        .order_by(func.nlevel(OrganizationUnit.path).desc(), Position.level, Member.id)
    )
    nearest: dict[uuid.UUID, tuple[str, str, str]] = {}
    for official_id, phone, language, unit_code in rows:
        if phone is not None:  # an erased member holds no position, and has no phone
            nearest.setdefault(official_id, (phone, language, unit_code))
    if not nearest:
        return []

    addresses: dict[uuid.UUID, list[NotifyAddress]] = {m: [] for m in nearest}
    for row in await session.scalars(
        select(ChannelAddress)
        .where(
            ChannelAddress.member_id.in_(list(nearest)),
            ChannelAddress.opted_out_at.is_(None),
            ChannelAddress.consent_refused_at.is_(None),
        )
        .order_by(ChannelAddress.last_inbound_at.desc().nulls_last())
    ):
        assert row.member_id is not None
        addresses[row.member_id].append(
            NotifyAddress(Channel(row.channel), row.address, row.last_inbound_at)
        )
    return [
        OfficialToNotify(
            member_id=official_id,
            phone=phone,
            language=Language(language),
            unit_code=unit_code,
            addresses=tuple(addresses[official_id]),
        )
        for official_id, (phone, language, unit_code) in nearest.items()
    ]
