"""Ballots: cast one (once per member), hold it, put it on the board in a shuffled batch,
find it by its receipt code, export the board, and declare the result from it.

Who voted and what was voted are written so that nothing links them (FACTS.md):

- ``election_voters`` gets (election, member, the day); the ballot goes to
  ``election_ballot_pool`` with a random id, no time, and the SHA-256 of a receipt code
  that only the voter is shown. The two rows share no key.
- When ``batch`` ballots are held, all of them move to the board (``election_votes``)
  in a random order (``secrets``), numbered and hash-chained after the board's last row;
  at the close the rest follow. So the board's order, sequence numbers and ids say
  nothing about who voted when, beyond which batch: each batch hides its voters among
  at least ``batch`` others.
- Nothing here logs.

What this does not hide: someone watching the database server itself while voting
goes on could see a ballot arrive in the pool as a voter's row arrives
(docs/elections.md).

Nothing commits: the caller commits (the ballot and the voter's row together).
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import board
from core.config import Settings
from core.i18n import N_, Language, in_language
from core.models import Election, ElectionStatus
from core.services import elections

RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
"""No 0/O, 1/I/L or U: a receipt is read off a phone and typed back."""
RECEIPT_LENGTH = 12  # 30**12 ≈ 2**59


class Refusal(enum.StrEnum):
    NOT_OPEN = "not_open"
    NOT_ELIGIBLE = "not_eligible"
    ALREADY_VOTED = "already_voted"
    BAD_CANDIDATE = "bad_candidate"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal


@dataclass(frozen=True, slots=True)
class Cast:
    receipt: str
    """Shown to the voter once; only its hash is kept."""


def new_receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def show_receipt(receipt: str) -> str:
    return "-".join(receipt[i : i + 4] for i in range(0, len(receipt), 4))


def read_receipt(typed: str) -> str | None:
    """A receipt as typed (any case, spaces or dashes), or None if it cannot be one."""
    code = "".join(ch for ch in typed.upper() if ch.isalnum())
    if len(code) != RECEIPT_LENGTH or any(ch not in RECEIPT_ALPHABET for ch in code):
        return None
    return code


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def cast(
    session: AsyncSession,
    *,
    election_id: uuid.UUID,
    member_id: uuid.UUID,
    candidate_id: uuid.UUID,
    now: datetime,
    batch: int,
) -> Cast | Refused:
    """One ballot for ``candidate_id`` from ``member_id``. A second ballot from the same
    member — from another channel at the same moment too — is refused: the voter's row
    is unique, and the second insert waits for the first transaction, then finds it."""
    # Casting holds the election's ballot lock shared; the close takes it alone
    # (:func:`close_ballot_box`): it waits for ballots in flight, and a ballot that comes
    # after it finds the election closed. (An advisory lock: no write to the row.)
    await session.execute(
        text(f"SELECT pg_advisory_xact_lock_shared({_BALLOTS_LOCK})"), {"e": str(election_id)}
    )
    checked = (
        await session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM election_eligible WHERE election_id = e.id"
                "               AND member_id = :m) AS eligible,"
                " EXISTS (SELECT 1 FROM election_candidates WHERE id = :c"
                "         AND election_id = e.id AND approved) AS approved"
                " FROM elections e WHERE e.id = :e AND e.status = 'voting_open'"
                " AND e.voting_start <= :now AND :now < e.voting_end"
            ),
            {"e": election_id, "m": member_id, "c": candidate_id, "now": now},
        )
    ).first()
    if checked is None:
        return Refused(Refusal.NOT_OPEN)
    if not checked.eligible:
        return Refused(Refusal.NOT_ELIGIBLE)
    if not checked.approved:
        return Refused(Refusal.BAD_CANDIDATE)
    receipt = new_receipt()
    # The voter's row and the ballot in one statement; the two rows share nothing.
    done = (
        await session.execute(
            text(
                "WITH voter AS ("
                "  INSERT INTO election_voters (election_id, member_id, voted_at)"
                "  VALUES (:e, :m, :day) ON CONFLICT (election_id, member_id) DO NOTHING"
                "  RETURNING 1),"
                " ballot AS ("
                "  INSERT INTO election_ballot_pool (election_id, candidate_id, receipt_hash)"
                "  SELECT :e, :c, :r FROM voter RETURNING 1)"
                " SELECT (SELECT count(*) FROM ballot) AS cast,"
                " (SELECT count(*) FROM election_ballot_pool WHERE election_id = :e) AS held"
            ),
            {
                "e": election_id,
                "m": member_id,
                "c": candidate_id,
                "r": board.receipt_hash(receipt),
                "day": _day(now),
            },
        )
    ).one()
    if not done.cast:
        return Refused(Refusal.ALREADY_VOTED)
    if done.held + 1 >= batch:
        await flush(session, election_id, batch=batch)
    return Cast(receipt)


async def has_voted(session: AsyncSession, election_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    return bool(
        await session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM election_voters WHERE election_id = :e"
                " AND member_id = :m)"
            ),
            {"e": election_id, "m": member_id},
        )
    )


async def genesis_of(session: AsyncSession, election_id: uuid.UUID) -> str:
    """The board's first hash: it binds the election, its approved candidates and the
    roll's count (none of which can change once voting opens)."""
    eligible = await session.scalar(
        text("SELECT coalesce(eligible_count, 0) FROM elections WHERE id = :e"),
        {"e": election_id},
    )
    ids = [str(c.id) for c in await elections.candidates(session, election_id)]
    return board.genesis(str(election_id), ids, int(eligible or 0))


_BOARD_LOCK = "hashtext('vck:board:' || :e)"
_BALLOTS_LOCK = "hashtext('vck:ballots:' || :e)"


async def close_ballot_box(session: AsyncSession, election_id: uuid.UUID) -> None:
    """Wait for the ballots being cast in ``election_id``; until the caller's transaction
    ends, no other ballot is cast (they wait, then find the election closed)."""
    await session.execute(
        text(f"SELECT pg_advisory_xact_lock({_BALLOTS_LOCK})"), {"e": str(election_id)}
    )


async def flush(
    session: AsyncSession, election_id: uuid.UUID, *, batch: int, final: bool = False
) -> int:
    """Move the held ballots to the board in a random order, once at least ``batch`` are
    held (``final``: all of them, at the close, and the board's length and head are
    written on the election). Returns how many moved.

    One writer at a time extends the chain (a transaction-scoped advisory lock). A
    ballot that finds another batch being written leaves its own for the next one rather
    than wait; the close waits. Nothing here locks the election's row, which every
    ballot reads while it is cast (:func:`cast`)."""
    held = await session.scalar(
        text("SELECT count(*) FROM election_ballot_pool WHERE election_id = :e"),
        {"e": election_id},
    )
    if not final and (not held or held < batch):
        return 0
    if final:
        await session.execute(
            text(f"SELECT pg_advisory_xact_lock({_BOARD_LOCK})"), {"e": str(election_id)}
        )
    elif not await session.scalar(
        text(f"SELECT pg_try_advisory_xact_lock({_BOARD_LOCK})"), {"e": str(election_id)}
    ):
        return 0
    last = (
        await session.execute(
            text(
                "SELECT seq, chain_hash FROM election_votes WHERE election_id = :e"
                " ORDER BY seq DESC LIMIT 1"
            ),
            {"e": election_id},
        )
    ).first()
    previous, count = (last.chain_hash, last.seq) if last else (
        await genesis_of(session, election_id), 0
    )  # fmt: skip
    rows = (
        await session.execute(
            text(
                "DELETE FROM election_ballot_pool WHERE election_id = :e"
                " RETURNING receipt_hash, candidate_id"
            ),
            {"e": election_id},
        )
    ).all()
    if not final and len(rows) < batch:
        # Another batch took them meanwhile: put back the few left for the next one.
        if rows:
            await session.execute(
                text(
                    "INSERT INTO election_ballot_pool (election_id, candidate_id, receipt_hash)"
                    " SELECT :e, unnest(CAST(:c AS uuid[])), unnest(CAST(:r AS text[]))"
                ),
                {"e": election_id, "c": [r[1] for r in rows], "r": [r[0] for r in rows]},
            )
        return 0
    shuffled = list(rows)
    secrets.SystemRandom().shuffle(shuffled)
    seqs, receipts, choices, hashes = [], [], [], []
    for receipt_hash, candidate_id in shuffled:
        count += 1
        previous = board.chain(previous, count, receipt_hash, str(candidate_id))
        seqs.append(count)
        receipts.append(receipt_hash)
        choices.append(candidate_id)
        hashes.append(previous)
    if shuffled:
        await session.execute(
            text(
                "INSERT INTO election_votes (election_id, seq, vote_hash, candidate_id,"
                " chain_hash) SELECT :e, unnest(CAST(:s AS int[])), unnest(CAST(:r AS text[])),"
                " unnest(CAST(:c AS uuid[])), unnest(CAST(:h AS text[]))"
            ),
            {"e": election_id, "s": seqs, "r": receipts, "c": choices, "h": hashes},
        )
    if final:
        await session.execute(
            text("UPDATE elections SET board_head = :h, ballots_count = :n WHERE id = :e"),
            {"h": previous, "n": count, "e": election_id},
        )
    return len(shuffled)


# --- what a member may vote in, and their receipt ----------------------------------------


@dataclass(frozen=True, slots=True)
class Open:
    id: uuid.UUID
    title: str
    voting_end: datetime
    eligible_count: int
    voted: bool


async def open_for(session: AsyncSession, member_id: uuid.UUID, *, now: datetime) -> list[Open]:
    """The elections ``member_id`` may vote in now (and whether they already have)."""
    rows = await session.execute(
        text(
            "SELECT e.id, e.title, e.voting_end, coalesce(e.eligible_count, 0),"
            " EXISTS (SELECT 1 FROM election_voters v WHERE v.election_id = e.id"
            "         AND v.member_id = :m)"
            " FROM elections e JOIN election_eligible r ON r.election_id = e.id"
            " WHERE r.member_id = :m AND e.status = 'voting_open'"
            " AND e.voting_start <= :now AND :now < e.voting_end"
            " ORDER BY e.voting_end, e.id LIMIT 9"
        ),
        {"m": member_id, "now": now},
    )
    return [Open(*row) for row in rows]


MENU_ENTRIES = """
SELECT EXISTS (SELECT 1 FROM elections e JOIN election_eligible r ON r.election_id = e.id
               WHERE r.member_id = $1 AND (
                 (e.status = 'voting_open' AND e.voting_start <= $2 AND $2 < e.voting_end)
                 OR (e.status IN ('voting_open', 'closed', 'results_declared')
                     AND e.voting_end > $2 - interval '30 days'
                     AND EXISTS (SELECT 1 FROM election_voters v
                                 WHERE v.election_id = e.id AND v.member_id = $1)))) AS vote,
       EXISTS (SELECT 1 FROM elections e JOIN election_eligible r ON r.election_id = e.id
               WHERE r.member_id = $1 AND e.status = 'nominations_open'
                 AND (e.nominations_end IS NULL OR $2 < e.nominations_end)
                 AND NOT EXISTS (SELECT 1 FROM election_candidates c
                                 WHERE c.election_id = e.id AND c.member_id = $1)) AS stand
"""


async def menu_entries(pg: Any, member_id: uuid.UUID, *, now: datetime) -> set[str]:
    """What the menu offers ``member_id`` about elections, in one query on the driver
    connection ``pg`` (asyncpg; the menu asks on every display): "vote" (an election
    open to them, or one they voted in lately, to check a receipt) and "stand"
    (nominations open to them)."""
    row = await pg.fetchrow(MENU_ENTRIES, member_id, now)
    return {name for name in ("vote", "stand") if row[name]}


class Found(enum.Enum):
    ON_BOARD = "on_board"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class Receipt:
    found: Found
    election_title: str
    candidate: elections.Candidate
    seq: int | None


async def lookup(session: AsyncSession, typed: str) -> Receipt | None:
    """Where the ballot of a receipt code is: on the board (with its row number), or
    held for the next batch; None for a code that is no ballot's."""
    code = read_receipt(typed)
    if code is None:
        return None
    digest = board.receipt_hash(code)
    row = (
        await session.execute(
            text(
                "SELECT election_id, candidate_id, seq FROM election_votes WHERE vote_hash = :h"
                " UNION ALL SELECT election_id, candidate_id, NULL FROM election_ballot_pool"
                " WHERE receipt_hash = :h LIMIT 1"
            ),
            {"h": digest},
        )
    ).first()
    if row is None:
        return None
    election_id, candidate_id, seq = row
    election = await session.get(Election, election_id)
    assert election is not None
    chosen = next(
        c
        for c in await elections.candidates(session, election_id, approved_only=False)
        if c.id == candidate_id
    )
    return Receipt(Found.ON_BOARD if seq else Found.HELD, election.title, chosen, seq)


# --- the board and the result ------------------------------------------------------------


async def export(session: AsyncSession, election_id: uuid.UUID) -> dict[str, Any] | None:
    """The public board as a JSON-ready document (core/board.py verifies it)."""
    row = (
        await session.execute(
            text(
                "SELECT e.id, e.title, e.status::text, e.voting_start, e.voting_end,"
                " e.eligible_count, e.board_head, e.declared_at, u.code, p.name"
                " FROM elections e JOIN organization_units u ON u.id = e.unit_id"
                " LEFT JOIN positions p ON p.id = e.position_id WHERE e.id = :e"
            ),
            {"e": election_id},
        )
    ).first()
    if row is None:
        return None
    candidates = await elections.candidates(session, election_id)
    rows = await session.execute(
        text(
            "SELECT seq, vote_hash, candidate_id, chain_hash FROM election_votes"
            " WHERE election_id = :e ORDER BY seq"
        ),
        {"e": election_id},
    )
    voters = await session.scalar(
        text("SELECT count(*) FROM election_voters WHERE election_id = :e"), {"e": election_id}
    )
    pending = await session.scalar(
        text("SELECT count(*) FROM election_ballot_pool WHERE election_id = :e"),
        {"e": election_id},
    )
    ballots = [
        {"seq": seq, "receipt": receipt, "candidate": str(cid), "hash": chained}
        for seq, receipt, cid, chained in rows
    ]
    eligible = int(row.eligible_count or 0)
    start = board.genesis(str(row.id), [str(c.id) for c in candidates], eligible)
    # (row.board_head is written at the close; the head is the last row's hash.)
    declared = None
    if row.declared_at is not None:
        counts = await session.execute(
            text(
                "SELECT id, votes_count FROM election_candidates"
                " WHERE election_id = :e AND approved"
            ),
            {"e": election_id},
        )
        declared = {str(cid): int(n or 0) for cid, n in counts}
    return {
        "format": board.FORMAT,
        "election": {
            "id": str(row.id),
            "title": row.title,
            "unit": row.code,
            "position": row.name,
            "status": row.status,
            "voting_start": row.voting_start.isoformat(),
            "voting_end": row.voting_end.isoformat(),
            "eligible_count": eligible,
        },
        "candidates": [{"id": str(c.id), "name": c.name, "name_ta": c.name_ta} for c in candidates],
        "genesis": start,
        "ballots": ballots,
        "head": ballots[-1]["hash"] if ballots else start,
        "voters": int(voters or 0),
        "pending": int(pending or 0),
        "declared": declared,
    }


@dataclass(frozen=True, slots=True)
class Result:
    tally: dict[uuid.UUID, int]
    winners: list[elections.Candidate]
    ballots: int
    eligible: int
    head: str


async def declare(
    session: AsyncSession, settings: Settings, election_id: uuid.UUID, *, now: datetime
) -> Result:
    """Count the board (the verifier's own count), set each candidate's ``votes_count``,
    mark the result declared and announce it to the unit and everything below."""
    from core import announcements

    await flush(session, election_id, batch=1, final=True)
    doc = await export(session, election_id)
    assert doc is not None
    verdict = board.verify({**doc, "declared": None})
    if not verdict.ok:  # never declare from a broken board
        raise RuntimeError(f"the board of {election_id} does not verify: {verdict.problems}")
    candidates = await elections.candidates(session, election_id)
    tally = {c.id: verdict.tally.get(str(c.id), 0) for c in candidates}
    for candidate_id, votes in tally.items():
        await session.execute(
            text("UPDATE election_candidates SET votes_count = :n WHERE id = :c"),
            {"n": votes, "c": candidate_id},
        )
    top = max(tally.values(), default=0)
    winners = [c for c in candidates if top and tally[c.id] == top]
    election = await session.get(Election, election_id)
    assert election is not None
    election.status = ElectionStatus.RESULTS_DECLARED
    election.declared_at = now
    await session.flush()
    result = Result(
        tally, winners, verdict.ballots, doc["election"]["eligible_count"], verdict.head
    )
    texts = {lang: result_text(election.title, candidates, result, lang) for lang in Language}
    await announcements.create(
        session,
        official_member_id=None,
        unit_code=doc["election"]["unit"],
        title=texts[Language.ENGLISH][0],
        content=texts[Language.ENGLISH][1],
        title_ta=texts[Language.TAMIL][0],
        content_ta=texts[Language.TAMIL][1],
        publish_at=now,
        now=now,
        settings=settings,
        request_key=f"election-result:{election_id}",
    )
    return result


RESULT_TITLE = N_("Election result: {title}")
ELECTED = N_("{name} is elected.")
TIE = N_("A tie between {names}.")
VOTES = N_("{name}: {count} votes")
TURNOUT = N_("{ballots} of {eligible} members voted.")
FINGERPRINT = N_("Anyone can recount the public board; its fingerprint is {head}.")


def result_text(
    title: str, candidates: list[elections.Candidate], result: Result, language: Language
) -> tuple[str, str]:
    """(title, text) of the result's announcement in ``language``."""

    def t(message: str) -> str:
        return in_language(language, message)

    heading = t(RESULT_TITLE).format(title=title)[:255]
    lines = []
    if len(result.winners) == 1:
        lines.append(t(ELECTED).format(name=result.winners[0].label(language)))
    elif result.winners:
        names = ", ".join(c.label(language) for c in result.winners)
        lines.append(t(TIE).format(names=names))
    for c in sorted(candidates, key=lambda c: -result.tally[c.id]):
        lines.append(t(VOTES).format(name=c.label(language), count=result.tally[c.id]))
    lines.append(t(TURNOUT).format(ballots=result.ballots, eligible=result.eligible))
    lines.append(t(FINGERPRINT).format(head=result.head[:16]))
    return heading, "\n".join(lines)
