"""The worker's cron closes an election on time, declares the result from the board and
the announcement fan-out takes it to every member of the unit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from core.config import Settings
from core.services import ballots, elections
from notifier import jobs
from notifier.bootstrap import Deps, build
from tests.elections_fixtures import VOTERS, member_id, open_election
from tests.memory_queue import MemoryQueue


@pytest.fixture
async def deps(settings: Settings) -> AsyncIterator[Deps]:
    built = build(settings, MemoryQueue())
    yield built
    await built.close()


async def test_the_cron_declares_and_the_fan_out_announces(session, settings, deps) -> None:
    e = await open_election(session, settings)
    cands = await elections.candidates(session, e)
    now = datetime.now(UTC)
    for phone in VOTERS[:3]:
        cast = await ballots.cast(
            session, election_id=e, member_id=await member_id(session, phone),
            candidate_id=cands[2].id, now=now, batch=100,
        )  # fmt: skip
        assert isinstance(cast, ballots.Cast)
    await session.execute(
        text("UPDATE elections SET voting_end = :t WHERE id = :e"),
        {"t": now - timedelta(seconds=1), "e": e},
    )
    await session.commit()

    assert await jobs.advance_elections(deps) == 1
    assert await jobs.advance_elections(deps) == 0  # once
    row = (
        await session.execute(
            text("SELECT status::text, ballots_count, board_head FROM elections WHERE id = :e"),
            {"e": e},
        )
    ).one()
    assert row.status == "results_declared" and row.ballots_count == 3
    announcement = await session.scalar(
        text("SELECT id FROM announcements WHERE request_key = :k"), {"k": f"election-result:{e}"}
    )
    assert await jobs.publish_due(deps) >= 1
    reached = await session.scalar(
        text("SELECT count(*) FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": announcement},
    )
    assert reached == 4  # every active member of AC018's subtree
    content = await session.scalar(
        text("SELECT content FROM announcements WHERE id = :a"), {"a": announcement}
    )
    assert f"{cands[2].name} is elected." in content and row.board_head[:16] in content
