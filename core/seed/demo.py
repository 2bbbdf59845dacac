"""The demo data local demos and every test start from (never a deployment: `vck seed`
refuses in production and staging).

``load_demo`` builds the Tamil Nadu tree (state, 38 districts, 234 assembly
constituencies, a few sample booths), the party's positions, and a fixed cast of
members and officials (:data:`DEMO_PEOPLE`). It is idempotent: reference rows (units,
positions) are upserted on their codes/names; people, their units and channel
addresses are inserted only when missing, so a second run changes nothing and never
undoes what a demo member did since. It flushes but never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Base, ChannelAddress, Member, MemberStatus, MemberUnit, OrganizationUnit
from core.models.org import Position, UnitType
from core.places import office_point
from core.seed import (
    STATE_CODE,
    STATE_NAME,
    STATE_NAME_TA,
    booth_unit_code,
    constituencies,
    district_by_code,
    districts,
)

ANNOUNCE = "announce"
VERIFY_MEMBERS = "verify_members"
VIEW_REPORTS = "view_reports"
HANDLE_GRIEVANCES = "handle_grievances"


def membership_number(district_code: str, serial: int) -> str:
    """``VCK-<district>-<7 digits>``, e.g. ``VCK-CHN-0000001`` (docs/org-codes.md)."""
    return f"VCK-{district_code}-{serial:07d}"


@dataclass(frozen=True, slots=True)
class PositionSpec:
    name: str
    name_ta: str
    level: int  # 1 = highest
    unit_type: UnitType
    permissions: tuple[str, ...]
    is_elected: bool = False
    max_holders: int = 1


_ALL = (ANNOUNCE, VERIFY_MEMBERS, VIEW_REPORTS, HANDLE_GRIEVANCES)
_S, _D, _C, _B = UnitType.STATE, UnitType.DISTRICT, UnitType.CONSTITUENCY, UnitType.BOOTH

# The party's standard positions, state president (level 1) down to booth agent (10).
POSITIONS: tuple[PositionSpec, ...] = (
    PositionSpec("State President", "மாநிலத் தலைவர்", 1, _S, _ALL, True),
    PositionSpec("General Secretary", "பொதுச் செயலாளர்", 2, _S, _ALL, True),
    PositionSpec("State Treasurer", "மாநிலப் பொருளாளர்", 3, _S, (VIEW_REPORTS,)),
    PositionSpec("State Secretary", "மாநிலச் செயலாளர்", 3, _S, (ANNOUNCE, VIEW_REPORTS), False, 10),
    PositionSpec("District Secretary", "மாவட்டச் செயலாளர்", 4, _D, _ALL, True),
    PositionSpec("District Deputy Secretary", "மாவட்டத் துணைச் செயலாளர்", 5, _D,
                 (VERIFY_MEMBERS, VIEW_REPORTS), False, 3),
    PositionSpec("Constituency Secretary", "தொகுதிச் செயலாளர்", 6, _C, _ALL, True),
    PositionSpec("Constituency In-charge", "தொகுதிப் பொறுப்பாளர்", 7, _C,
                 (VERIFY_MEMBERS, VIEW_REPORTS)),
    PositionSpec("Booth Committee Secretary", "வாக்குச்சாவடிக் குழுச் செயலாளர்", 8, _B,
                 (ANNOUNCE, VIEW_REPORTS, HANDLE_GRIEVANCES)),
    PositionSpec("Booth Committee Member", "வாக்குச்சாவடிக் குழு உறுப்பினர்", 9, _B, (), False, 10),
    PositionSpec("Booth Agent", "வாக்குச்சாவடி முகவர்", 10, _B, (VIEW_REPORTS,), False, 2),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoBooth:
    constituency: str  # unit code of the constituency
    number: int
    name: str
    name_ta: str
    pin: str
    office: str  # bharatpin post office whose coordinates are the booth's centre

    @property
    def code(self) -> str:
        return booth_unit_code(self.constituency, self.number)


_CHN18, _CHN25, _VPM74, _VPM75 = "TN.CHN.AC018", "TN.CHN.AC025", "TN.VPM.AC074", "TN.VPM.AC075"

# Sample booths, each centred on a post office in its area (bharatpin's coordinates).
DEMO_BOOTHS: tuple[DemoBooth, ...] = (
    DemoBooth(_CHN18, 1, "Mannady", "மண்ணடி", "600001", "Mannady S.O (Chennai)"),
    DemoBooth(_CHN18, 2, "Flower Bazaar", "பூக்கடை", "600001", "Flower Bazaar"),
    DemoBooth(_CHN18, 3, "Mint", "தங்கசாலை", "600001", "Mint Building S.O"),
    DemoBooth(_CHN25, 1, "Mylapore", "மயிலாப்பூர்", "600004", "Mylapore H.O"),
    DemoBooth(_CHN25, 2, "Mandaveli", "மந்தைவெளி", "600004", "Mandaveli S.O"),
    DemoBooth(_CHN25, 3, "Teynampet", "தேனாம்பேட்டை", "600018", "Teynampet S.O"),
    DemoBooth(_VPM74, 1, "Villupuram Town", "விழுப்புரம் நகரம்", "605602", "VILUPPURAM HO"),
    DemoBooth(_VPM74, 2, "Villupuram Collectorate", "விழுப்புரம் ஆட்சியர் அலுவலகம்", "605602",
              "Villupuram Collectorate SO"),
    DemoBooth(_VPM74, 3, "Kandamanadi", "கண்டமானடி", "605401", "Kandamanadi SO"),
    DemoBooth(_VPM75, 1, "Vikravandi", "விக்கிரவாண்டி", "605652", "Vikravandi SO"),
    DemoBooth(_VPM75, 2, "Koliyanur", "கோலியனூர்", "605103", "Koliyanur SO"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoPerson:
    name: str
    name_ta: str
    phone: str  # E.164
    unit: str  # unit code of their primary unit (and of their position, if any)
    position: str | None  # PositionSpec.name
    status: MemberStatus
    language: str  # 'ta' | 'en'
    membership_number: str


_A, _P = MemberStatus.ACTIVE, MemberStatus.PENDING

# Fixed, fictional people on fictional phones: +1 202 555 0100-0199 is kept for fiction
# by the North American numbering plan, so no subscriber receives a demo official's
# step-up code (a real-looking Indian number would reach whoever holds it). Synthetic
# members never use them.
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("Kavitha Selvam", "கவிதா செல்வம்", "+12025550101", "TN",
               "General Secretary", _A, "ta", "VCK-CHN-0000001"),
    DemoPerson("Murugan Arumugam", "முருகன் ஆறுமுகம்", "+12025550102", "TN.CHN",
               "District Secretary", _A, "ta", "VCK-CHN-0000002"),
    DemoPerson("Anbarasi Velu", "அன்பரசி வேலு", "+12025550103", "TN.VPM",
               "District Secretary", _A, "ta", "VCK-VPM-0000001"),
    DemoPerson("Senthil Kumar", "செந்தில் குமார்", "+12025550104", "TN.CHN.AC018",
               "Constituency Secretary", _A, "ta", "VCK-CHN-0000003"),
    DemoPerson("Ilango Raman", "இளங்கோ ராமன்", "+12025550105", "TN.CHN.AC018.B0001",
               "Booth Agent", _A, "ta", "VCK-CHN-0000004"),
    DemoPerson("Priya Rajendran", "பிரியா ராஜேந்திரன்", "+12025550111", "TN.CHN.AC018.B0001",
               None, _A, "en", "VCK-CHN-0000005"),
    DemoPerson("Karthik Subramani", "கார்த்திக் சுப்பிரமணி", "+12025550112", "TN.CHN.AC018.B0002",
               None, _A, "ta", "VCK-CHN-0000006"),
    DemoPerson("Meena Chandran", "மீனா சந்திரன்", "+12025550113", "TN.CHN.AC025.B0001",
               None, _A, "ta", "VCK-CHN-0000007"),
    DemoPerson("Vijay Pandian", "விஜய் பாண்டியன்", "+12025550114", "TN.VPM.AC074.B0001",
               None, _A, "ta", "VCK-VPM-0000002"),
    DemoPerson("Lakshmi Gopal", "லட்சுமி கோபால்", "+12025550115", "TN.VPM.AC074.B0002",
               None, _A, "ta", "VCK-VPM-0000003"),
    DemoPerson("Saravanan Mani", "சரவணன் மணி", "+12025550116", "TN.VPM.AC075.B0001",
               None, _A, "ta", "VCK-VPM-0000004"),
    DemoPerson("Deepa Ravi", "தீபா ரவி", "+12025550117", "TN.VPM.AC074.B0003",
               None, _P, "ta", "VCK-VPM-0000005"),
)  # fmt: skip

DEMO_CHANNELS = ("whatsapp", "sms")


@dataclass(frozen=True, slots=True)
class DemoSummary:
    districts: int
    constituencies: int
    booths: int
    positions: int
    members: int
    member_units: int
    channel_addresses: int


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


def _point(lat: float, lon: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


async def _upsert_units(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Insert or refresh units by code; returns code -> id."""
    table = _table(OrganizationUnit)
    stmt = insert(table).values(rows)
    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.code],
        set_={
            c: stmt.excluded[c]
            for c in ("name", "type", "path", "parent_id", "center_point", "metadata")
        },
    ).returning(table.c.code, table.c.id)
    return {code: id_ for code, id_ in (await session.execute(upsert)).all()}


async def _load_tree(session: AsyncSession) -> dict[str, Any]:
    ids = await _upsert_units(
        session,
        [
            {
                "code": STATE_CODE,
                "path": STATE_CODE,
                "name": STATE_NAME,
                "type": UnitType.STATE,
                "parent_id": None,
                "center_point": None,
                "metadata": {"name_ta": STATE_NAME_TA},
            }
        ],
    )
    district_rows = []
    for d in districts():
        lat, lon = office_point(d.hq_pin, d.hq_office)
        district_rows.append(
            {
                "code": d.unit_code,
                "path": d.unit_code,
                "name": d.name_en,
                "type": UnitType.DISTRICT,
                "parent_id": ids[STATE_CODE],
                "center_point": _point(lat, lon),
                "metadata": {"name_ta": d.name_ta, "hq_pin": d.hq_pin},
            }
        )
    ids |= await _upsert_units(session, district_rows)
    by_code = district_by_code()
    ids |= await _upsert_units(
        session,
        [
            {
                "code": ac.unit_code,
                "path": ac.unit_code,
                "name": ac.name_en,
                "type": UnitType.CONSTITUENCY,
                "parent_id": ids[by_code[ac.district].unit_code],
                "center_point": None,
                "metadata": {"name_ta": ac.name_ta, "eci_number": ac.number},
            }
            for ac in constituencies()
        ],
    )
    booth_rows = []
    for b in DEMO_BOOTHS:
        lat, lon = office_point(b.pin, b.office)
        booth_rows.append(
            {
                "code": b.code,
                "path": b.code,
                "name": b.name,
                "type": UnitType.BOOTH,
                "parent_id": ids[b.constituency],
                "center_point": _point(lat, lon),
                "metadata": {"name_ta": b.name_ta, "booth_number": b.number, "pin": b.pin},
            }
        )
    ids |= await _upsert_units(session, booth_rows)
    return ids


async def _load_positions(session: AsyncSession) -> dict[str, Any]:
    existing = {(p.name, p.unit_type): p for p in (await session.scalars(select(Position))).all()}
    for spec in POSITIONS:
        position = existing.get((spec.name, spec.unit_type))
        if position is None:
            position = Position(name=spec.name, unit_type=spec.unit_type)
            session.add(position)
            existing[(spec.name, spec.unit_type)] = position
        position.name_ta = spec.name_ta
        position.level = spec.level
        if list(position.permissions or []) != list(spec.permissions):
            position.permissions = list(spec.permissions)
        position.is_elected = spec.is_elected
        position.max_holders = spec.max_holders
    await session.flush()
    return {spec.name: existing[(spec.name, spec.unit_type)].id for spec in POSITIONS}


def _split(name: str) -> tuple[str, str | None]:
    first, _, last = name.partition(" ")
    return first, last or None


def _district_name(unit_code: str) -> str | None:
    parts = unit_code.split(".")
    return district_by_code()[parts[1]].name_en if len(parts) > 1 else None


async def _load_people(
    session: AsyncSession, units: dict[str, Any], positions: dict[str, Any]
) -> None:
    rows = []
    for p in DEMO_PEOPLE:
        first, last = _split(p.name)
        first_ta, last_ta = _split(p.name_ta)
        rows.append(
            {
                "first_name": first,
                "last_name": last,
                "first_name_ta": first_ta,
                "last_name_ta": last_ta,
                "phone": p.phone,
                "district": _district_name(p.unit),
                "status": p.status,
                "language": p.language,
                "membership_number": p.membership_number,
                "verified_at": func.now() if p.status is MemberStatus.ACTIVE else None,
                "metadata": {"demo": True},
            }
        )
    await session.execute(insert(_table(Member)).values(rows).on_conflict_do_nothing())
    phones = [p.phone for p in DEMO_PEOPLE]
    found = await session.execute(select(Member.phone, Member.id).where(Member.phone.in_(phones)))
    members = {phone: member_id for phone, member_id in found}
    missing = set(phones) - set(members)
    if missing:
        raise RuntimeError(f"demo members not loaded (membership number taken?): {missing}")

    unit_rows: list[dict[str, Any]] = []
    address_rows: list[dict[str, Any]] = []
    for p in DEMO_PEOPLE:
        member_id, unit_id = members[p.phone], units[p.unit]
        unit_rows.append(
            {"member_id": member_id, "unit_id": unit_id, "position_id": None, "is_primary": True}
        )
        if p.position is not None:
            unit_rows.append(
                {
                    "member_id": member_id,
                    "unit_id": unit_id,
                    "position_id": positions[p.position],
                    "is_primary": False,
                }
            )
        for channel in DEMO_CHANNELS:
            address_rows.append(
                {
                    "channel": channel,
                    "address": p.phone,
                    "phone": p.phone,
                    "member_id": member_id,
                    "language": p.language,
                    "consent_given_at": func.now(),
                }
            )
    await session.execute(insert(_table(MemberUnit)).values(unit_rows).on_conflict_do_nothing())
    await session.execute(
        insert(_table(ChannelAddress)).values(address_rows).on_conflict_do_nothing()
    )
    await session.flush()


DEMO_SERIALS = 1000
"""Live signups draw membership serials above the demo's hand-numbered ones."""


async def _reserve_demo_serials(session: AsyncSession) -> None:
    await session.execute(
        text(
            "SELECT setval('membership_number_seq', "
            "GREATEST((SELECT last_value FROM membership_number_seq), :floor))"
        ),
        {"floor": DEMO_SERIALS},
    )


async def load_demo(session: AsyncSession) -> DemoSummary:
    """Load (or top up) the demo data in the caller's transaction."""
    units = await _load_tree(session)
    positions = await _load_positions(session)
    await _load_people(session, units, positions)
    await _reserve_demo_serials(session)
    officials = sum(1 for p in DEMO_PEOPLE if p.position is not None)
    return DemoSummary(
        districts=len(districts()),
        constituencies=len(constituencies()),
        booths=len(DEMO_BOOTHS),
        positions=len(POSITIONS),
        members=len(DEMO_PEOPLE),
        member_units=len(DEMO_PEOPLE) + officials,
        channel_addresses=len(DEMO_PEOPLE) * len(DEMO_CHANNELS),
    )
