"""``vck elections create / board / verify``: an operator creates an election, exports
the board, and anyone recounts it from the file; a tampered file fails."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from cli.elections import verify_file
from core.services import ballots, elections
from tests.elections_fixtures import CANDIDATES, POSITION, UNIT, VOTERS, member_id


async def vck(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VCK_DATABASE_URL": settings.database_url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def test_create_export_and_verify(session, settings, tmp_path) -> None:
    now = datetime.now(UTC)
    cands = [a for c in CANDIDATES for a in ("--candidate", c)]
    done = await vck(
        settings, "elections", "create", "--unit", UNIT, "--position", POSITION,
        "--title", "AC018 secretary", "--voting-start", (now + timedelta(seconds=1)).isoformat(),
        "--voting-end", (now + timedelta(hours=1)).isoformat(), *cands,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    e = uuid.UUID(done.stdout.strip())
    assert len(await elections.candidates(session, e)) == 3  # approved at once
    await elections.advance(session, settings, now=now + timedelta(seconds=2))
    await session.commit()
    cands_rows = await elections.candidates(session, e)
    for i, phone in enumerate(VOTERS):
        cast = await ballots.cast(
            session, election_id=e, member_id=await member_id(session, phone),
            candidate_id=cands_rows[min(i, 2)].id, now=now + timedelta(seconds=3), batch=100,
        )  # fmt: skip
        assert isinstance(cast, ballots.Cast)
    await elections.advance(session, settings, now=now + timedelta(hours=1))
    await session.commit()

    out = tmp_path / "board.json"
    done = await vck(settings, "elections", "board", str(e), "--out", str(out))
    assert done.returncode == 0, done.stderr
    done = await vck(settings, "elections", "verify", str(out))
    assert done.returncode == 0, done.stderr
    assert "4 ballots" in done.stdout and "matches the declared result" in done.stdout
    declared = dict(
        (
            await session.execute(
                text(
                    "SELECT id::text, votes_count FROM election_candidates WHERE election_id = :e"
                ),
                {"e": e},
            )
        ).all()
    )
    assert declared == json.loads(out.read_text())["declared"]
    assert sorted(declared.values()) == [1, 1, 2]

    doc = json.loads(out.read_text())
    doc["ballots"][0]["candidate"] = doc["ballots"][1]["candidate"] = doc["candidates"][0]["id"]
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc))
    code, lines = verify_file(bad)
    assert code == 1 and any("FAILED" in line for line in lines)
    bad.write_text("not json")
    assert verify_file(bad)[0] == 2


async def test_bad_create_arguments_are_refused_politely(settings) -> None:
    done = await vck(
        settings, "elections", "create", "--unit", "TN.NOWHERE", "--position", POSITION,
        "--title", "x", "--voting-start", "2030-01-01T10:00", "--voting-end", "2030-01-01T18:00",
    )  # fmt: skip
    assert done.returncode == 1 and "unit_not_found" in done.stderr
    done = await vck(
        settings, "elections", "create", "--unit", UNIT, "--position", POSITION,
        "--title", "x", "--voting-start", "tomorrow", "--voting-end", "2030-01-01T18:00",
    )  # fmt: skip
    assert done.returncode == 2 and "bad time" in done.stderr
