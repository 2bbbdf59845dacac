"""Elections: ballots cast per second through the webhook once the step-up is done, beside
the trivial handler's floor; and ``vck elections verify`` on a large board.

**Casting.** ``VOTERS`` members (SMS, UK numbers: every reply is TwiML) are on the roll
of an election in one booth; each one's conversation is put at the last question — "Your
vote: X. Cast it?" — as after the step-up and the choice (written straight into Redis:
walking 100,000 members through an SMS code first would measure the code, not the
ballot). Then each sends "1" once, signed with Twilio's real signature, spread over
``PROCESSES`` bots (``vck serve``), in two phases:

- *capacity*: ``CONCURRENCY`` always in flight (closed loop) for at most ``SECONDS``:
  the most ballots per second the bots take. Its latency is mostly queueing by
  construction (in flight ÷ throughput): printed, but not the target's p99;
- *polling day*: ``RATE`` voters per second for ``PACED_SECONDS``, arriving whatever
  the bots do (open loop: voters do not wait for each other's receipts); each latency
  counts from when its voter was due, so bots falling behind show as latency. This is
  the target's figure.

What one
request costs is everything a real ballot costs: the signature, the exactly-once claim,
the state, the checks (window, roll, candidate), the voter's unique row, the ballot in
the pool, a shuffled batch onto the hash-chained board every ``VCK_ELECTION_BALLOT_BATCH``
ballots, the reply with the receipt and the menu. The floor is :mod:`benchmarks.trivial`,
measured before and after (as in :mod:`benchmarks.inbound`). Target (issue 16): ≥ 300
ballots/s with p99 ≤ 100 ms (the polling-day line).

**Verifying.** A board of ``BOARD`` ballots (made here with the real chain, 3 candidates)
is written to a file and ``vck elections verify FILE`` is run on it as its own process;
the time includes starting Python. Target: ≤ 5 s for 100,000 ballots.

Environment (defaults in brackets): ``VCK_BENCH_ELECTIONS_VOTERS`` [100000],
``VCK_BENCH_ELECTIONS_SECONDS`` [60, the most the capacity phase may take],
``VCK_BENCH_ELECTIONS_RATE`` [300], ``VCK_BENCH_ELECTIONS_PACED_SECONDS`` [30],
``VCK_BENCH_ELECTIONS_CONCURRENCY`` [32], ``VCK_BENCH_ELECTIONS_PROCESSES`` [the number of
cores], ``VCK_BENCH_ELECTIONS_BOARD`` [100000], ``VCK_BENCH_ELECTIONS_DB``
[vck_bench_elections], ``VCK_BENCH_ELECTIONS_REDIS_DB`` [13].

Run: ``uv run python -m benchmarks elections``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from benchmarks import loadgen
from benchmarks.common import (
    Child,
    database_url,
    finish,
    flush_redis,
    loopback_urls,
    migrated_database,
    redis_url,
    stop_all,
    venv_script,
)
from benchmarks.inbound import start_servers, twilio_env
from benchmarks.inbound_workloads import Planned, Planner, add_members, member_numbers
from benchmarks.meter import percentile
from bot.state import ConversationState, StateStore, put_states
from core import aio, board
from core.channels.base import Channel
from core.config import load_settings
from core.db import make_engine, make_session_factory
from core.models import OrganizationUnit, UnitType
from core.seed.demo import load_demo
from core.services import elections

POSITION = "Booth Committee Secretary"


@dataclass(frozen=True)
class Options:
    voters: int
    seconds: float
    rate: float
    paced_seconds: float
    concurrency: int
    processes: int
    board: int
    database: str
    redis_db: int

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ.get
        return cls(
            voters=int(env("VCK_BENCH_ELECTIONS_VOTERS", "100000")),
            seconds=float(env("VCK_BENCH_ELECTIONS_SECONDS", "60")),
            rate=float(env("VCK_BENCH_ELECTIONS_RATE", "300")),
            paced_seconds=float(env("VCK_BENCH_ELECTIONS_PACED_SECONDS", "30")),
            concurrency=int(env("VCK_BENCH_ELECTIONS_CONCURRENCY", "32")),
            processes=int(env("VCK_BENCH_ELECTIONS_PROCESSES", str(os.cpu_count() or 1))),
            board=int(env("VCK_BENCH_ELECTIONS_BOARD", "100000")),
            database=env("VCK_BENCH_ELECTIONS_DB", "vck_bench_elections"),
            redis_db=int(env("VCK_BENCH_ELECTIONS_REDIS_DB", "13")),
        )


async def prepare(url: str, redis: str, numbers: list[str]) -> tuple[uuid.UUID, int]:
    """The database with the voters and an open election; each voter's conversation at
    "Cast it?". Returns the election and the size of its roll."""
    await migrated_database(url)
    engine = make_engine(url, pool_size=1)
    now = datetime.now(UTC)
    try:
        factory = make_session_factory(engine)
        async with factory.begin() as session:
            await load_demo(session)
        async with factory.begin() as session:
            await add_members(session, Channel.SMS, numbers, now=now)  # in pieces itself
        async with factory.begin() as session:
            booth = await session.scalar(
                select(OrganizationUnit)
                .where(OrganizationUnit.type == UnitType.BOOTH)
                .order_by(OrganizationUnit.path)
                .limit(1)
            )
            assert booth is not None
            candidates = (
                await session.execute(
                    text("SELECT membership_number FROM members WHERE phone = ANY(:p)"),
                    {"p": numbers[:3]},
                )
            ).scalars()
            made = await elections.create(
                session, official_member_id=None, unit_code=booth.code, position=POSITION,
                title="Booth secretary", voting_start=now - timedelta(minutes=1),
                voting_end=now + timedelta(hours=6), candidates=tuple(candidates), now=now,
            )  # fmt: skip
            assert isinstance(made, elections.Created), made
            await elections.advance(session, load_settings(), now=now)
            listed = await elections.candidates(session, made.election_id)
            eligible = int(
                await session.scalar(
                    text("SELECT eligible_count FROM elections WHERE id = :e"),
                    {"e": made.election_id},
                )
                or 0
            )
        store = StateStore(load_settings().secret_key.get_secret_value(), 3600)
        data = {"election": str(made.election_id), "title": "Booth secretary"}
        states = [
            (
                store.key(Channel.SMS, number),
                ConversationState(
                    "vote", "confirm", {**data, "candidate": str(listed[i % len(listed)].id)}
                ),
            )
            for i, number in enumerate(numbers)
        ]
        async with factory.begin() as session:
            for start in range(0, len(states), 5000):
                await put_states(session, states[start : start + 5000], now=now)
    finally:
        await engine.dispose()
    return made.election_id, eligible


async def closed_loop(planned: list[Planned], concurrency: int, seconds: float) -> loadgen.Phase:
    return await loadgen.closed_loop_for([p.request for p in planned], concurrency, seconds)


def make_board(path: Path, ballots: int) -> None:
    """A closed election's board of ``ballots`` rows, chained as the real one is."""
    election = str(uuid.uuid4())
    candidates = [str(uuid.uuid4()) for _ in range(3)]
    eligible = ballots + ballots // 4
    previous = start = board.genesis(election, candidates, eligible)
    rows, tally = [], dict.fromkeys(candidates, 0)
    for n in range(1, ballots + 1):
        receipt = board.receipt_hash(f"R{n:011d}")
        choice = candidates[(n * 7) % 3]
        previous = board.chain(previous, n, receipt, choice)
        rows.append({"seq": n, "receipt": receipt, "candidate": choice, "hash": previous})
        tally[choice] += 1
    doc = {
        "format": board.FORMAT,
        "election": {"id": election, "title": "bench", "unit": "TN", "eligible_count": eligible},
        "candidates": [{"id": c, "name": f"Candidate {i}"} for i, c in enumerate(candidates)],
        "genesis": start, "ballots": rows, "head": previous, "voters": ballots,
        "pending": 0, "declared": tally,
    }  # fmt: skip
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def verify_timing(ballots: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vck-bench-board-"))
    try:
        path = folder / "board.json"
        make_board(path, ballots)
        size_mb = path.stat().st_size / 1e6
        started = time.perf_counter()
        done = subprocess.run(
            [venv_script("vck"), "elections", "verify", str(path)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        took = time.perf_counter() - started
        if done.returncode != 0 or "OK" not in done.stdout:
            raise RuntimeError(f"verify failed: {done.stdout} {done.stderr}")
        print(
            f"elections verify: {ballots} ballots ({size_mb:.0f} MB of JSON) in {took:.2f} s"
            " (vck elections verify, a process of its own; target ≤ 5 s for 100,000)",
            flush=True,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def run(options: Options) -> None:
    settings = load_settings()
    db_url, redis = database_url(options.database), redis_url(options.redis_db)
    auth_token = settings.twilio_auth_token.get_secret_value()
    bot_urls, trivial_urls = loopback_urls(options.processes), loopback_urls(options.processes)
    numbers = member_numbers(Channel.SMS, options.voters)
    logs = Path(tempfile.mkdtemp(prefix="vck-bench-elections-"))
    nowhere = loopback_urls(1)[0]  # SMS replies are TwiML: nothing goes to Twilio's API
    env = twilio_env(db_url, redis, nowhere, settings)
    children: list[Child] = []
    succeeded = False
    try:
        started = time.perf_counter()
        await flush_redis(redis)
        election_id, eligible = await prepare(db_url, redis, numbers)
        print(
            f"elections setup: {options.voters} voters at 'Cast it?', roll of {eligible},"
            f" in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        await start_servers(bot_urls, trivial_urls, env, logs, children)

        make = Planner(Channel.SMS, bot_urls, auth_token, settings.twilio_account_sid)
        floor = make.trivial(numbers[0], trivial_urls, 2000, 400_000)
        half = min(10.0, options.seconds / 4)
        await closed_loop(floor, options.concurrency, 2.0)  # warm-up
        before = await closed_loop(floor, options.concurrency, half)
        casts = [make._planned(number, "1").request for number in numbers]
        on_the_day = int(options.rate * options.paced_seconds)
        if on_the_day >= len(casts):
            raise ValueError(f"{options.voters} voters: too few for {on_the_day} on the day")
        cast = await loadgen.closed_loop_for(
            casts[on_the_day:], options.concurrency, options.seconds
        )
        paced = await loadgen.open_loop_for(casts[:on_the_day], options.rate)
        after = await closed_loop(floor, options.concurrency, half)

        floor_rate = (len(before.answers) / before.seconds + len(after.answers) / after.seconds) / 2
        floor_lat = sorted(before.latencies + after.latencies)
        answers = cast.answers + paced.answers
        receipts = sum("Receipt" in (body := a.body.decode()) or "ரசீது" in body for _, a in answers)
        others = [a.body.decode()[:300] for _, a in answers if b"Receipt" not in a.body
                  and "ரசீது".encode() not in a.body]  # fmt: skip
        if others:
            print(f"elections: {len(others)} answers without a receipt, e.g. {others[:2]}")
        engine = make_engine(db_url, pool_size=1)
        try:
            async with make_session_factory(engine)() as session:
                counted = (
                    await session.execute(
                        text(
                            "SELECT (SELECT count(*) FROM election_voters WHERE election_id = :e),"
                            " (SELECT count(*) FROM election_votes WHERE election_id = :e)"
                            " + (SELECT count(*) FROM election_ballot_pool"
                            "    WHERE election_id = :e)"
                        ),
                        {"e": election_id},
                    )
                ).one()
        finally:
            await engine.dispose()
        print(
            f"elections trivial handler: {floor_rate:.0f} msg/s,"
            f" p99 {percentile(floor_lat, 0.99) * 1000:.1f} ms",
            flush=True,
        )
        for label, phase, how in (
            ("capacity", cast, f"{options.concurrency} in flight, closed loop"),
            ("polling day", paced, f"offered at {options.rate:.0f}/s"),
        ):
            print(
                f"elections {label}: {len(phase.answers)} ballots in {phase.seconds:.1f} s ="
                f" {phase.figures('ballots', floor_rate)} ({how}, {options.processes} bots)",
                flush=True,
            )
        print("elections target: ≥ 300/s at p99 ≤ 100 ms (the polling-day line)", flush=True)
        print(
            f"elections check: {receipts} receipts answered, {counted[0]} voters,"
            f" {counted[1]} ballots, {len(cast.errors) + len(paced.errors)} errors",
            flush=True,
        )
        if not (receipts == counted[0] == counted[1]):
            raise RuntimeError("ballots, voters and receipts differ")
        stop_all(children)
        children = []
        verify_timing(options.board)
        succeeded = True
    finally:
        await finish(
            children, db_url, redis, logs, succeeded=succeeded, whose="the bots'", name="elections"
        )


def main() -> None:
    aio.run(run(Options.from_env()))


if __name__ == "__main__":
    main()
