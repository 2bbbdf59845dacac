"""The ballot box: unlinkable from the voters, and a public board that anyone can
recount and that any tampering breaks."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core import board
from core.services import ballots, elections
from tests.elections_fixtures import add_members, member_id, open_election

VOTERS = 40


def spearman(xs: list[float], ys: list[float]) -> float:
    """Rank correlation of two equally long lists without ties."""

    def ranks(values: list[float]) -> list[int]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0] * len(values)
        for rank, i in enumerate(order):
            out[i] = rank
        return out

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    d2 = sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


async def test_nothing_links_a_ballot_to_its_voter(session, settings) -> None:
    """Forty members vote one after another; their receipts tell the test (and only the
    test) which ballot is whose. Neither the board's order, nor the rows' physical order,
    nor their ids, nor any time may follow the order in which they voted."""
    await add_members(session, VOTERS)
    e = await open_election(session, settings)
    cands = await elections.candidates(session, e)
    voters = (
        (
            await session.execute(
                text("SELECT member_id FROM election_eligible WHERE election_id = :e"), {"e": e}
            )
        )
        .scalars()
        .all()
    )
    assert len(voters) >= VOTERS
    voters = voters[:VOTERS]
    now = datetime.now(UTC) + timedelta(seconds=5)
    receipts = []
    for i, voter in enumerate(voters):
        cast = await ballots.cast(
            session, election_id=e, member_id=voter, candidate_id=cands[i % 3].id,
            now=now + timedelta(seconds=i), batch=VOTERS,
        )  # fmt: skip
        assert isinstance(cast, ballots.Cast)
        receipts.append(board.receipt_hash(cast.receipt))
        await session.commit()
    rows = (
        await session.execute(
            text(
                "SELECT vote_hash, seq, id::text, ctid::text, voted_at FROM election_votes"
                " WHERE election_id = :e"
            ),
            {"e": e},
        )
    ).all()
    assert len(rows) == VOTERS
    by_receipt = {r.vote_hash: r for r in rows}
    voted_order = list(range(VOTERS))
    ballot = [by_receipt[h] for h in receipts]
    physical = [tuple(int(x) for x in r.ctid.strip("()").split(",")) for r in ballot]
    physical_rank = [sorted(physical).index(p) for p in physical]
    for name, positions in (
        ("board order", [r.seq for r in ballot]),
        ("physical order", physical_rank),
        ("id order", [uuid.UUID(r.id).int for r in ballot]),
    ):
        rho = spearman(voted_order, positions)
        # A random order gives |rho| > 0.6 for 40 voters about once in 30,000 runs.
        assert abs(rho) < 0.6, f"the ballots' {name} follows the voters' order (rho={rho:.2f})"
    assert all(r.voted_at is None for r in ballot), "a ballot carries a time"
    # No shared key: no column of a voter's row appears in any ballot row.
    voter_rows = (
        await session.execute(
            text(
                "SELECT id::text, member_id::text, voted_at FROM election_voters"
                " WHERE election_id = :e"
            ),
            {"e": e},
        )
    ).all()
    ballot_values = {v for r in rows for v in (r.vote_hash, r.id)}
    assert not {v for r in voter_rows for v in (r.id, r.member_id)} & ballot_values
    assert len({r.voted_at for r in voter_rows}) <= 2  # the day only (a run across midnight: 2)
    assert all(r.voted_at.hour == 0 and r.voted_at.minute == 0 for r in voter_rows)


async def voted_board(session, settings) -> dict:
    await add_members(session, 9)
    e = await open_election(session, settings)
    cands = await elections.candidates(session, e)
    voters = (
        (
            await session.execute(
                text("SELECT member_id FROM election_eligible WHERE election_id = :e"), {"e": e}
            )
        )
        .scalars()
        .all()
    )
    now = datetime.now(UTC) + timedelta(seconds=5)
    for i, voter in enumerate(voters[:10]):
        cast = await ballots.cast(
            session, election_id=e, member_id=voter, candidate_id=cands[i % 2].id,
            now=now, batch=4,
        )  # fmt: skip
        assert isinstance(cast, ballots.Cast)
    await elections.advance(session, settings, now=now + timedelta(hours=3))
    doc = await ballots.export(session, e)
    assert doc is not None
    return doc


async def test_the_exported_board_recounts_to_the_declared_result(session, settings) -> None:
    doc = await voted_board(session, settings)
    verdict = board.verify(doc)
    assert verdict.ok, verdict.problems
    assert verdict.ballots == 10 and doc["pending"] == 0 and doc["voters"] == 10
    assert sorted(verdict.tally.values()) == [0, 5, 5]
    assert verdict.tally == doc["declared"]


async def test_a_tampered_board_fails_verification(session, settings) -> None:
    doc = await voted_board(session, settings)
    other = {c["id"] for c in doc["candidates"]}

    def tampered(change) -> board.Verdict:
        copied = copy.deepcopy(doc)
        change(copied)
        return board.verify(copied)

    def changed(d):
        row = d["ballots"][3]
        row["candidate"] = next(iter(other - {row["candidate"]}))

    def removed(d):
        del d["ballots"][4]

    def removed_last_and_rechained(d):
        d["ballots"].pop()
        d["head"] = d["ballots"][-1]["hash"]

    def added(d):
        last = d["ballots"][-1]
        receipt = board.receipt_hash("FAKEFAKEFAKE")
        cand = d["candidates"][0]["id"]
        d["ballots"].append(
            {"seq": last["seq"] + 1, "receipt": receipt, "candidate": cand,
             "hash": board.chain(last["hash"], last["seq"] + 1, receipt, cand)}
        )  # fmt: skip
        d["head"] = d["ballots"][-1]["hash"]
        d["declared"][cand] += 1

    def reordered(d):
        d["ballots"][1], d["ballots"][2] = d["ballots"][2], d["ballots"][1]

    def declared_otherwise(d):
        first = d["candidates"][0]["id"]
        d["declared"][first] += 1

    for change in (changed, removed, removed_last_and_rechained, added, reordered,
                   declared_otherwise):  # fmt: skip
        verdict = tampered(change)
        assert not verdict.ok, change.__name__
        assert verdict.problems


async def test_ballots_reach_the_board_only_in_full_batches(session, settings) -> None:
    e = await open_election(session, settings)
    cands = await elections.candidates(session, e)
    now = datetime.now(UTC) + timedelta(seconds=5)
    for phone in ("+12025550104", "+12025550105", "+12025550111"):
        voter = await member_id(session, phone)
        await ballots.cast(
            session, election_id=e, member_id=voter, candidate_id=cands[0].id, now=now, batch=4
        )
    assert (await ballots.export(session, e))["ballots"] == []
    voter = await member_id(session, "+12025550112")
    await ballots.cast(
        session, election_id=e, member_id=voter, candidate_id=cands[1].id, now=now, batch=4
    )
    doc = await ballots.export(session, e)
    assert [b["seq"] for b in doc["ballots"]] == [1, 2, 3, 4] and doc["pending"] == 0
    assert board.verify(doc).ok


async def test_erasing_a_voter_or_a_candidate_never_touches_a_ballot(session, settings) -> None:
    from core.services import privacy

    e = await open_election(session, settings)
    cands = await elections.candidates(session, e)
    now = datetime.now(UTC) + timedelta(seconds=5)
    voters = [await member_id(session, p) for p in ("+12025550105", "+12025550111")]
    for voter in voters:
        await ballots.cast(
            session, election_id=e, member_id=voter, candidate_id=cands[0].id, now=now, batch=1
        )
    await session.commit()
    before = (await ballots.export(session, e))["ballots"]
    secret = settings.secret_key.get_secret_value()
    await privacy.erase_member(session, voters[0], secret=secret, now=now)
    erased_candidate = await session.scalar(
        text("SELECT member_id FROM election_candidates WHERE id = :c"), {"c": cands[0].id}
    )
    await privacy.erase_member(session, erased_candidate, secret=secret, now=now)
    await session.commit()
    doc = await ballots.export(session, e)
    assert doc["ballots"] == before and doc["voters"] == 2
    verdict = board.verify(doc)
    assert verdict.ok and verdict.tally[str(cands[0].id)] == 2


async def test_the_close_waits_for_a_ballot_in_flight_and_counts_it(
    session, session_factory, settings
) -> None:
    import asyncio

    e = await open_election(session, settings)
    cands = await elections.candidates(session, e)
    voter = await member_id(session, "+12025550111")
    now = datetime.now(UTC)
    async with session_factory() as casting, session_factory() as closing:
        cast = await ballots.cast(
            casting, election_id=e, member_id=voter, candidate_id=cands[0].id, now=now, batch=100
        )
        assert isinstance(cast, ballots.Cast)  # not committed yet
        close = asyncio.ensure_future(
            elections.advance(closing, settings, now=now + timedelta(hours=3))
        )
        await asyncio.sleep(0.5)
        assert not close.done()  # waits for the ballot being cast
        await casting.commit()
        assert [status for _, status in await close] == ["results_declared"]
        await closing.commit()
    doc = await ballots.export(session, e)
    assert doc["pending"] == 0 and len(doc["ballots"]) == 1 and board.verify(doc).ok
    late = await ballots.cast(
        session, election_id=e, member_id=await member_id(session, "+12025550112"),
        candidate_id=cands[0].id, now=now, batch=100,
    )  # fmt: skip
    assert late == ballots.Refused(ballots.Refusal.NOT_OPEN)
