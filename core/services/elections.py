"""Internal party elections: create one for a unit and a position, nominate and approve
candidates, freeze the roll, and move each election along its calendar
(draft → nominations_open → voting_open → closed → results_declared).

Who may run an election: an official allowed to announce (or to run elections) on the
unit, their own or one below it; ``official_member_id=None`` is the operator at the
console. Casting, the board and the result are in core/services/ballots.py.

Nothing here commits: the caller commits.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.i18n import Language, local_name
from core.models import (
    Election,
    ElectionCandidate,
    ElectionStatus,
    Member,
    OrganizationUnit,
    Position,
)
from core.services import officials

RUN_ELECTIONS = ("run_elections", officials.ANNOUNCE)
"""Either permission lets an official run an election on their unit or below."""

_IN_UNIT = """EXISTS (
    SELECT 1 FROM member_units mu JOIN organization_units u ON u.id = mu.unit_id
    WHERE mu.member_id = m.id AND mu.left_at IS NULL AND u.path <@ CAST(:path AS ltree))"""
"""SQL: member ``m`` belongs to the unit at ``:path`` or to a unit below it."""


class Refusal(enum.StrEnum):
    UNIT_NOT_FOUND = "unit_not_found"
    NOT_ALLOWED = "not_allowed"
    POSITION_NOT_FOUND = "position_not_found"
    BAD_SCHEDULE = "bad_schedule"
    CANDIDATE_NOT_FOUND = "candidate_not_found"
    """No active member of the unit's subtree has that membership number."""
    TOO_LATE = "too_late"
    """Candidates can be nominated or approved only before voting opens."""
    ELECTION_NOT_FOUND = "election_not_found"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Created:
    election_id: uuid.UUID
    status: ElectionStatus


async def _member_in_unit(
    session: AsyncSession, path: str, *, membership_number: str | None = None,
    member_id: uuid.UUID | None = None,
) -> uuid.UUID | None:  # fmt: skip
    """The active member (by number or id) of the unit at ``path`` or below."""
    found = await session.scalar(
        text(
            f"SELECT m.id FROM members m WHERE m.status = 'active' AND {_IN_UNIT}"
            " AND (m.membership_number = :number OR m.id = :member)"
        ),
        {"path": path, "number": membership_number, "member": member_id},
    )
    return found


async def create(
    session: AsyncSession,
    *,
    official_member_id: uuid.UUID | None,
    unit_code: str,
    position: str,
    title: str,
    voting_start: datetime,
    voting_end: datetime,
    nominations_start: datetime | None = None,
    nominations_end: datetime | None = None,
    candidates: tuple[str, ...] = (),
    now: datetime,
) -> Created | Refused:
    """A draft election for ``position`` in ``unit_code``; ``candidates`` (membership
    numbers) are approved at once. The worker moves it along its calendar
    (:func:`advance`)."""
    unit = await officials.active_unit(session, unit_code)
    if unit is None:
        return Refused(Refusal.UNIT_NOT_FOUND, unit_code)
    if not await officials.may_act(session, official_member_id, RUN_ELECTIONS, unit.path):
        return Refused(Refusal.NOT_ALLOWED, unit.code)
    wanted = position.strip().casefold()
    found = await session.scalar(
        select(Position).where(
            Position.unit_type == unit.type,
            (func.lower(Position.name) == wanted) | (Position.name_ta == position.strip()),
        )
    )
    if found is None:
        return Refused(Refusal.POSITION_NOT_FOUND, position)
    title = title.strip()[:255]
    moments = [voting_start, voting_end, nominations_start, nominations_end]
    if not title or any(m is not None and m.tzinfo is None for m in moments):
        return Refused(Refusal.BAD_SCHEDULE, "timezone")
    if voting_end <= voting_start or voting_end <= now:
        return Refused(Refusal.BAD_SCHEDULE, "voting")
    if (nominations_start is None) != (nominations_end is None):
        return Refused(Refusal.BAD_SCHEDULE, "nominations")
    if (
        nominations_start
        and nominations_end
        and not (nominations_start < nominations_end <= voting_start)
    ):
        return Refused(Refusal.BAD_SCHEDULE, "nominations")
    members: list[uuid.UUID] = []
    for number in dict.fromkeys(c.strip().upper() for c in candidates):
        member_id = await _member_in_unit(session, unit.path, membership_number=number)
        if member_id is None:
            return Refused(Refusal.CANDIDATE_NOT_FOUND, number)
        members.append(member_id)
    election = Election(
        title=title,
        unit_id=unit.id,
        position_id=found.id,
        nominations_start=nominations_start,
        nominations_end=nominations_end,
        voting_start=voting_start,
        voting_end=voting_end,
        eligible_voter_criteria={"unit": unit.code, "rule": "active members of the subtree"},
        status=ElectionStatus.DRAFT,
        created_by=official_member_id,
    )
    session.add(election)
    await session.flush()
    for member_id in members:
        session.add(
            ElectionCandidate(
                election_id=election.id,
                member_id=member_id,
                approved=True,
                approved_by=official_member_id,
            )
        )
    await session.flush()
    return Created(election.id, ElectionStatus.DRAFT)


async def _before_voting(session: AsyncSession, election_id: uuid.UUID) -> str | Refused:
    """The unit path of an election still taking candidates (draft or nominations open)."""
    row = await _election_and_path(session, election_id)
    if row is None:
        return Refused(Refusal.ELECTION_NOT_FOUND)
    election, path = row
    if election.status not in (ElectionStatus.DRAFT, ElectionStatus.NOMINATIONS_OPEN):
        return Refused(Refusal.TOO_LATE)
    return path


async def nominate(
    session: AsyncSession,
    election_id: uuid.UUID,
    *,
    membership_number: str | None = None,
    member_id: uuid.UUID | None = None,
    by: uuid.UUID | None,
) -> uuid.UUID | Refused:
    """Put a member forward (themselves: ``by`` is their own id; or an official). The
    candidate still needs :func:`approve`. Nominating twice returns the same row."""
    path = await _before_voting(session, election_id)
    if isinstance(path, Refused):
        return path
    if (
        by is not None
        and by != member_id
        and not await officials.may_act(session, by, RUN_ELECTIONS, path)
    ):
        return Refused(Refusal.NOT_ALLOWED)
    found = await _member_in_unit(
        session, path, membership_number=membership_number, member_id=member_id
    )
    if found is None:
        return Refused(Refusal.CANDIDATE_NOT_FOUND, membership_number or "")
    candidate = await session.scalar(
        text(
            "INSERT INTO election_candidates (election_id, member_id) VALUES (:e, :m)"
            " ON CONFLICT (election_id, member_id) DO UPDATE SET member_id = EXCLUDED.member_id"
            " RETURNING id"
        ),
        {"e": election_id, "m": found},
    )
    assert candidate is not None
    return candidate


async def approve(
    session: AsyncSession, election_id: uuid.UUID, candidate_id: uuid.UUID, *, by: uuid.UUID | None
) -> bool | Refused:
    """Approve a nominated candidate (officials of the unit or above; before voting)."""
    path = await _before_voting(session, election_id)
    if isinstance(path, Refused):
        return path
    if not await officials.may_act(session, by, RUN_ELECTIONS, path):
        return Refused(Refusal.NOT_ALLOWED)
    done = await session.execute(
        text(
            "UPDATE election_candidates SET approved = true, approved_by = :by"
            " WHERE id = :c AND election_id = :e"
        ),
        {"by": by, "c": candidate_id, "e": election_id},
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def _election_and_path(
    session: AsyncSession, election_id: uuid.UUID
) -> tuple[Election, str] | None:
    found = (
        await session.execute(
            select(Election, OrganizationUnit.path)
            .join(OrganizationUnit, OrganizationUnit.id == Election.unit_id)
            .where(Election.id == election_id)
        )
    ).first()
    return (found[0], found[1]) if found else None


@dataclass(frozen=True, slots=True)
class Candidate:
    id: uuid.UUID
    name: str
    name_ta: str | None
    approved: bool

    def label(self, language: Language | str | None = None) -> str:
        return local_name(self.name, self.name_ta, language)


async def candidates(
    session: AsyncSession, election_id: uuid.UUID, *, approved_only: bool = True
) -> list[Candidate]:
    """The election's candidates, in a fixed order (by name)."""
    rows = await session.execute(
        select(
            ElectionCandidate.id,
            Member.first_name,
            Member.last_name,
            Member.first_name_ta,
            Member.last_name_ta,
            ElectionCandidate.approved,
        )
        .join(Member, Member.id == ElectionCandidate.member_id)
        .where(ElectionCandidate.election_id == election_id)
        .where(ElectionCandidate.approved.is_(True) if approved_only else text("true"))
        .order_by(Member.first_name, Member.last_name, ElectionCandidate.id)
    )
    out = []
    for cid, first, last, first_ta, last_ta, approved in rows:
        name = " ".join(p for p in (first, last) if p) or "—"
        name_ta = " ".join(p for p in (first_ta, last_ta) if p) or None
        out.append(Candidate(cid, name, name_ta, bool(approved)))
    return out


# --- the roll and the calendar ---------------------------------------------------------


async def freeze_roll(session: AsyncSession, election_id: uuid.UUID, *, now: datetime) -> int:
    """Write the roll (the active members of the unit's subtree, now) once; returns the
    published count."""
    row = await _election_and_path(session, election_id)
    assert row is not None
    election, path = row
    if election.eligibility_frozen_at is not None:
        return int(election.eligible_count or 0)
    await session.execute(
        text(
            "INSERT INTO election_eligible (election_id, member_id)"
            f" SELECT :e, m.id FROM members m WHERE m.status = 'active' AND {_IN_UNIT}"
            " ON CONFLICT DO NOTHING"
        ),
        {"e": election_id, "path": path},
    )
    count = await session.scalar(
        text("SELECT count(*) FROM election_eligible WHERE election_id = :e"), {"e": election_id}
    )
    election.eligible_count = int(count or 0)
    election.eligibility_frozen_at = now
    await session.flush()
    return election.eligible_count


async def advance(
    session: AsyncSession, settings: Settings, *, now: datetime
) -> list[tuple[uuid.UUID, ElectionStatus]]:
    """Move every election whose time has come to its next status (the worker's cron):
    the roll is frozen when nominations (or else voting) open; at the close the last
    ballots go to the board; then the result is counted from the board, declared and
    announced to the unit. Returns each move made."""
    from core.services import ballots

    moves: list[tuple[uuid.UUID, ElectionStatus]] = []
    due = await session.scalars(
        select(Election)
        .where(
            Election.status.in_(
                [
                    ElectionStatus.DRAFT,
                    ElectionStatus.NOMINATIONS_OPEN,
                    ElectionStatus.VOTING_OPEN,
                    ElectionStatus.CLOSED,
                ]
            )
        )
        # FOR NO KEY UPDATE: no ballot waits for it (their rows only refer to the election),
        # and two workers never move the same election.
        .with_for_update(skip_locked=True, key_share=True)
    )
    for election in list(due):
        original = status = ElectionStatus(election.status or ElectionStatus.DRAFT)
        if status is ElectionStatus.DRAFT and election.nominations_start is not None:
            if election.nominations_start <= now < election.voting_start:
                await freeze_roll(session, election.id, now=now)
                status = ElectionStatus.NOMINATIONS_OPEN
        if status in (ElectionStatus.DRAFT, ElectionStatus.NOMINATIONS_OPEN):
            if election.voting_start <= now:
                await freeze_roll(session, election.id, now=now)
                status = ElectionStatus.VOTING_OPEN
        if status is ElectionStatus.VOTING_OPEN and election.voting_end <= now:
            await ballots.close_ballot_box(session, election.id)
            election.status = status
            await ballots.flush(session, election.id, batch=1, final=True)
            status = ElectionStatus.CLOSED
        if status is ElectionStatus.CLOSED:
            election.status = status
            await ballots.declare(session, settings, election.id, now=now)
            status = ElectionStatus.RESULTS_DECLARED
        if status is not original:
            election.status = status
            moves.append((election.id, status))
    await session.flush()
    return moves


# --- nominations in chat -----------------------------------------------------------------


async def open_for_nomination(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime
) -> list[tuple[uuid.UUID, str]]:
    """(id, title) of the elections whose nominations are open to ``member_id`` (on
    the roll, not yet a candidate)."""
    rows = await session.execute(
        text(
            "SELECT e.id, e.title FROM elections e JOIN election_eligible r"
            " ON r.election_id = e.id AND r.member_id = :m"
            " WHERE e.status = 'nominations_open'"
            " AND (e.nominations_end IS NULL OR :now < e.nominations_end)"
            " AND NOT EXISTS (SELECT 1 FROM election_candidates c WHERE c.election_id = e.id"
            "                 AND c.member_id = :m)"
            " ORDER BY e.voting_start, e.id LIMIT 9"
        ),
        {"m": member_id, "now": now},
    )
    return [(election_id, title) for election_id, title in rows]


@dataclass(frozen=True, slots=True)
class Nomination:
    candidate_id: uuid.UUID
    election_id: uuid.UUID
    title: str
    candidate: Candidate


async def awaiting_approval(
    session: AsyncSession, official_member_id: uuid.UUID, *, limit: int = 9
) -> list[Nomination]:
    """Candidacies not yet approved in elections the official may run, oldest first."""
    scopes = []
    for permission in RUN_ELECTIONS:
        held, unit = officials.permission_scope(official_member_id, permission)
        scopes.append(exists(held.where(unit.path.ancestor_of(OrganizationUnit.path))))
    rows = await session.execute(
        select(
            ElectionCandidate.id,
            Election.id,
            Election.title,
            Member.first_name,
            Member.last_name,
            Member.first_name_ta,
            Member.last_name_ta,
        )
        .join(Election, Election.id == ElectionCandidate.election_id)
        .join(OrganizationUnit, OrganizationUnit.id == Election.unit_id)
        .join(Member, Member.id == ElectionCandidate.member_id)
        .where(
            ElectionCandidate.approved.is_not(True),
            Election.status.in_([ElectionStatus.DRAFT, ElectionStatus.NOMINATIONS_OPEN]),
            or_(*scopes),
        )
        .order_by(ElectionCandidate.nominated_at, ElectionCandidate.id)
        .limit(limit)
    )
    out = []
    for cid, eid, title, first, last, first_ta, last_ta in rows:
        name = " ".join(p for p in (first, last) if p) or "—"
        name_ta = " ".join(p for p in (first_ta, last_ta) if p) or None
        out.append(Nomination(cid, eid, title, Candidate(cid, name, name_ta, False)))
    return out
