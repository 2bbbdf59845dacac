"""Reads of personal data by officials, logged (FACTS.md: "log access").

Each time an official is shown another member's personal details — the list of signups
waiting for verification (names, numbers, units), one member's details before verifying
them; grievance details when grievances come — :func:`record` writes who read, whose,
what and when. The log holds ids only: it says *that* Priya's details were read by the
Villupuram secretary, never the details. It survives the reader's and the member's
erasure under their emptied ids (core/services/privacy.py, ``REFERENCES``): it is the
evidence of who looked.

``vck privacy access-log --member NUMBER`` shows a member's entries.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class Read(enum.StrEnum):
    VERIFICATION_LIST = "verification_list"
    MEMBER_DETAILS = "member_details"
    GRIEVANCE = "grievance"
    """An official opened a member's complaint (its text, questions and answers)."""


async def record(
    session: AsyncSession,
    official_id: uuid.UUID,
    member_ids: Iterable[uuid.UUID],
    what: Read,
    *,
    now: datetime,
) -> None:
    """One row per member whose details ``official_id`` was shown, in the caller's
    transaction (a read that is shown is logged with the reply that shows it)."""
    ids = [m for m in member_ids if m != official_id]
    if not ids:
        return
    await session.execute(
        text(
            "INSERT INTO access_log (official_id, member_id, what, read_at)"
            " SELECT :official, unnest(CAST(:ids AS uuid[])), :what, :now"
        ),
        {"official": official_id, "ids": ids, "what": what.value, "now": now},
    )


@dataclass(frozen=True, slots=True)
class Entry:
    read_at: datetime
    what: str
    official_number: str | None
    """The reader's membership number (kept after their erasure)."""


async def for_member(session: AsyncSession, membership_number: str) -> list[Entry] | None:
    """Every read of the member's details, newest first; None for an unknown number."""
    member_id = await session.scalar(
        text("SELECT id FROM members WHERE membership_number = :n"), {"n": membership_number}
    )
    if member_id is None:
        return None
    rows = await session.execute(
        text(
            "SELECT a.read_at, a.what, o.membership_number FROM access_log a"
            " JOIN members o ON o.id = a.official_id"
            " WHERE a.member_id = :m ORDER BY a.read_at DESC, a.id DESC"
        ),
        {"m": member_id},
    )
    return [Entry(*row) for row in rows]
