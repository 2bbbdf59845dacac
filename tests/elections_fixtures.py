"""Helpers for election tests: a constituency election over the demo data.

TN.CHN.AC018 (Chennai) has four active demo members: Senthil Kumar (its secretary,
+12025550104), Ilango Raman (+12025550105), Priya Rajendran (English, +12025550111)
and Karthik Subramani (+12025550112)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.services import elections

UNIT = "TN.CHN.AC018"
POSITION = "Constituency Secretary"
SECRETARY = "+12025550104"
VOTERS = ("+12025550104", "+12025550105", "+12025550111", "+12025550112")
CANDIDATES = ("VCK-CHN-0000003", "VCK-CHN-0000004", "VCK-CHN-0000006")


async def open_election(
    session: AsyncSession,
    settings: Settings,
    *,
    candidates: tuple[str, ...] = CANDIDATES,
    now: datetime | None = None,
    hours: int = 2,
) -> uuid.UUID:
    """An election for AC018's secretary whose voting opened a minute ago."""
    now = now or datetime.now(UTC)
    made = await elections.create(
        session,
        official_member_id=None,
        unit_code=UNIT,
        position=POSITION,
        title="AC018 secretary 2027",
        voting_start=now - timedelta(minutes=1),
        voting_end=now + timedelta(hours=hours),
        candidates=candidates,
        now=now,
    )
    assert isinstance(made, elections.Created), made
    moves = await elections.advance(session, settings, now=now)
    assert (made.election_id, "voting_open") in moves
    await session.commit()
    return made.election_id


async def member_id(session: AsyncSession, phone: str) -> uuid.UUID:
    found = await session.scalar(text("SELECT id FROM members WHERE phone = :p"), {"p": phone})
    assert found is not None
    return found


async def add_members(session: AsyncSession, count: int, unit: str = "TN.CHN.AC018.B0002") -> None:
    """``count`` more active members in ``unit`` (phones +9170000xxxxx)."""
    await session.execute(
        text(
            "WITH made AS (INSERT INTO members (first_name, phone, status, membership_number)"
            " SELECT 'Voter ' || n, '+9170000' || lpad(n::text, 5, '0'), 'active',"
            "  'VCK-TST-' || lpad(n::text, 7, '0') FROM generate_series(1, :n) AS n"
            " RETURNING id)"
            " INSERT INTO member_units (member_id, unit_id, is_primary)"
            " SELECT made.id, u.id, true FROM made, organization_units u WHERE u.code = :u"
        ),
        {"n": count, "u": unit},
    )
    await session.commit()
