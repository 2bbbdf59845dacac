"""Events: a rally where every member checks in by sharing a location, and a burst of
simultaneous RSVPs for a full event, both through the real Twilio webhook.

**Rally**: ``MEMBERS`` registered members, each with the check-in question on screen,
share a WhatsApp location at the venue: signed webhook, exactly-once claim, the
conversation step, the geo-fence test in PostGIS (geography ``ST_DWithin``), the
attendance row and its activity row, the reply. Target (issue 13): ≥ 300 check-ins/s
at p99 ≤ 100 ms, all in 60 s. Two phases, both against the floor the inbound bench uses
(:mod:`benchmarks.trivial`, measured just before, same machine):

- *capacity*, first (it also warms the bots up, as hours of running would): ``SATURATE``
  more members with ``CONCURRENCY`` always in flight (closed loop); figure: the most
  check-ins per second the bot answers. Its latency is mostly queueing by construction
  (in flight ÷ throughput), so it is printed but is not the target's p99;
- *the rally*: the ``MEMBERS`` arrive at ``RATE`` per second whatever the bot does (open
  loop: members at a gate do not wait for each other's replies); figures: check-ins per
  second achieved and p99 latency, each counted from when the member was due, so a bot
  falling behind shows as latency.

**RSVP burst**: ``BURST`` members answer Yes to an event of 100 places all at once
(one connection each); figure: the wall time until the last answer, and the check that
exactly 100 got a place.

Environment (defaults in brackets): ``VCK_BENCH_EVENTS_MEMBERS`` [10000],
``VCK_BENCH_EVENTS_RATE`` [300], ``VCK_BENCH_EVENTS_SATURATE`` [5000],
``VCK_BENCH_EVENTS_BURST`` [1000], ``VCK_BENCH_EVENTS_CONCURRENCY`` [32],
``VCK_BENCH_EVENTS_PROCESSES`` [the number of cores], ``VCK_BENCH_EVENTS_DB``
[vck_bench_events], ``VCK_BENCH_EVENTS_REDIS_DB`` [14] (two benchmarks at once on one
server need their own).

Run: ``uv run python -m benchmarks events``.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import text

from benchmarks import loadgen
from benchmarks.common import (
    Child,
    database_url,
    finish,
    flush_redis,
    loopback_urls,
    migrated_database,
    port_of,
    redis_url,
    wait_http_ok,
)
from benchmarks.inbound import STARTUP_SECONDS, start_fake, start_servers, twilio_env
from benchmarks.inbound_workloads import Planner, add_members
from bot.state import ConversationState, StateStore, put_states
from core import aio
from core.channels.base import Channel
from core.config import load_settings
from core.db import make_engine, make_session_factory
from core.models.events import EventStatus, EventType
from core.seed.demo import load_demo
from core.services import events
from fakes import twilio as fake_twilio

PATH = "/webhooks/twilio"
FLOOR_SECONDS = 5.0
CAPACITY = 100
BURST_TIMEOUT = 120.0
TWILIO_WAITS = 15.0


@dataclass(frozen=True)
class Options:
    members: int
    rate: float
    saturate: int
    burst: int
    concurrency: int
    processes: int
    database: str
    redis_db: int

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ.get
        return cls(
            members=int(env("VCK_BENCH_EVENTS_MEMBERS", "10000")),
            rate=float(env("VCK_BENCH_EVENTS_RATE", "300")),
            saturate=int(env("VCK_BENCH_EVENTS_SATURATE", "5000")),
            burst=int(env("VCK_BENCH_EVENTS_BURST", "1000")),
            concurrency=int(env("VCK_BENCH_EVENTS_CONCURRENCY", "32")),
            processes=int(env("VCK_BENCH_EVENTS_PROCESSES", str(os.cpu_count() or 1))),
            database=env("VCK_BENCH_EVENTS_DB", "vck_bench_events"),
            redis_db=int(env("VCK_BENCH_EVENTS_REDIS_DB", "14")),
        )


@dataclass(frozen=True)
class Prepared:
    rally_id: str
    burst_id: str
    venue: events.Venue


async def prepare(url: str, numbers: list[str], burst: list[str]) -> Prepared:
    """Demo data, the members in one booth, a rally they are all registered for (its
    venue the booth's centre) and an event of 100 places nobody answered yet."""
    await migrated_database(url)
    settings = load_settings()
    engine = make_engine(url, pool_size=1)
    now = datetime.now(UTC)
    try:
        factory = make_session_factory(engine)
        async with factory.begin() as session:
            await load_demo(session)
        async with factory.begin() as session:
            await add_members(session, Channel.WHATSAPP, numbers + burst, now=now)
        async with factory.begin() as session:
            booth = (
                await session.execute(
                    text(
                        "SELECT u.code FROM organization_units u JOIN member_units mu"
                        " ON mu.unit_id = u.id JOIN members m ON m.id = mu.member_id"
                        " WHERE m.phone = :p"
                    ),
                    {"p": numbers[0]},
                )
            ).scalar_one()
            venue = await events.booth_venue(session, booth)
            assert venue is not None, f"{booth} has no centre point"
            made = []
            for title, capacity, starts in (
                ("Rally", None, timedelta(minutes=10)),
                ("Full meeting", CAPACITY, timedelta(days=1)),
            ):
                event = await events.create(
                    session, official_member_id=None, unit_code=booth.split(".")[0],
                    title=title, type=EventType.RALLY, start=now + starts, venue=venue,
                    radius_m=200, capacity=capacity, now=now, settings=settings,
                )  # fmt: skip
                assert not isinstance(event, events.Refused), event
                event.status = EventStatus.PUBLISHED
                made.append(event)
            await session.flush()
            await session.execute(
                text(
                    "INSERT INTO event_attendees (event_id, member_id, status)"
                    " SELECT :e, id, 'registered' FROM members WHERE phone = ANY(:phones)"
                ),
                {"e": made[0].id, "phones": numbers},
            )
            return Prepared(str(made[0].id), str(made[1].id), venue)
    finally:
        await engine.dispose()


async def put_on_screen(url: str, numbers: list[str], state: str, event_id: str) -> None:
    """Each member's conversation at ``events:<state>`` for the event (as after
    "நிகழ்வு", "1", and for check-in "1" again)."""
    store = StateStore(load_settings().secret_key.get_secret_value(), 3600)
    conv = ConversationState("events", state, {"event_id": event_id})
    engine = make_engine(url, pool_size=1)
    try:
        async with make_session_factory(engine).begin() as session:
            keys = [store.key(Channel.WHATSAPP, number) for number in numbers]
            await put_states(session, [(key, conv) for key in keys], now=datetime.now(UTC))
    finally:
        await engine.dispose()


def signed(urls: list[str], number: str, serial: int, auth_token: str, **form_extra: object):
    url = urls[serial % len(urls)] + PATH
    form = fake_twilio.inbound_form(
        "whatsapp:" + number, str(form_extra.pop("body", "")), sid=f"SMev{serial:030d}",
        **form_extra,  # type: ignore[arg-type]
    )  # fmt: skip
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": fake_twilio.sign(auth_token, url, form),
    }
    return loadgen.encode_post(url, urlencode(form).encode(), headers)


async def counts(url: str, event_id: str) -> dict[str, int]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT status::text, count(*) FROM event_attendees WHERE event_id = :e"
                    " GROUP BY 1"
                ),
                {"e": event_id},
            )
            return {status: int(n) for status, n in rows}
    finally:
        await engine.dispose()


async def run(options: Options) -> None:
    settings = load_settings()
    db_url = database_url(options.database)
    bench_redis = redis_url(options.redis_db)
    fake_url, *bot_urls = loopback_urls(1 + options.processes)
    trivial_urls = loopback_urls(options.processes)
    auth_token = settings.twilio_auth_token.get_secret_value()
    account_sid = settings.twilio_account_sid
    numbers = [f"+{919_600_000_000 + i}" for i in range(options.members + options.saturate)]
    burst = [f"+{919_500_000_000 + i}" for i in range(options.burst)]
    logs = Path(tempfile.mkdtemp(prefix="vck-bench-events-"))
    env = twilio_env(db_url, bench_redis, fake_url, settings)
    children: list[Child] = []
    succeeded = False
    try:
        prepared = await prepare(db_url, numbers, burst)
        await flush_redis(bench_redis)
        await put_on_screen(db_url, numbers, "location", prepared.rally_id)
        await put_on_screen(db_url, burst, "event", prepared.burst_id)
        fake = start_fake(port_of(fake_url), account_sid, auth_token, logs)
        children.append(fake)
        await start_servers(bot_urls, trivial_urls, env, logs, children)
        await wait_http_ok(f"{fake_url}/_fake/count", fake, within=STARTUP_SECONDS)

        planner = Planner(Channel.WHATSAPP, bot_urls, auth_token, account_sid)
        floor_requests = [
            p.request for p in planner.trivial(numbers[0], trivial_urls, 2000, 200_000)
        ]
        floor = await loadgen.closed_loop_for(floor_requests, options.concurrency, FLOOR_SECONDS)
        floor_rate = len(floor.answers) / floor.seconds

        venue = prepared.venue
        rally = [
            signed(bot_urls, n, i, auth_token, latitude=venue.latitude, longitude=venue.longitude)
            for i, n in enumerate(numbers)
        ]
        # Capacity first: it also warms the bots up (their first requests open database
        # connections), as a rally's bot has been running for hours when the gates open.
        saturated = await loadgen.closed_loop_for(
            rally[options.members :], options.concurrency, 120.0
        )
        paced = await loadgen.open_loop_for(rally[: options.members], options.rate)
        done = await counts(db_url, prepared.rally_id)

        yeses = [
            signed(bot_urls, n, len(numbers) + i, auth_token, body="1") for i, n in enumerate(burst)
        ]
        # Every answer waited for (Twilio gives up after 15 s; the bot then sends the
        # reply through the REST API): the wall time is until the last place is given.
        loadgen.REQUEST_TIMEOUT = BURST_TIMEOUT
        rsvp = await loadgen.closed_loop_for(yeses, max(1, len(yeses)), 120.0)
        late = sum(1 for t in rsvp.latencies if t > TWILIO_WAITS)
        places = await counts(db_url, prepared.burst_id)

        phases = (("rally", paced), ("capacity", saturated), ("rsvp burst", rsvp))
        for label, phase in phases:
            refused = Counter(a.status for _, a in phase.answers if a.status != 200)
            if refused or phase.errors:
                sample = phase.errors[:1]
                print(f"events {label}: answers not 200: {dict(refused)}; {sample}", flush=True)
        print(f"events floor (trivial handler): {floor_rate:.0f} msgs/s", flush=True)
        for label, phase, how in (
            ("rally", paced, f"offered at {options.rate:.0f}/s"),
            ("capacity", saturated, f"{options.concurrency} in flight, closed loop"),
        ):
            print(
                f"events {label}: {phase.figures('check-ins', floor_rate)} ({how}),"
                f" {len(phase.answers)} members in {phase.seconds:.1f} s,"
                f" {len(phase.errors)} errors",
                flush=True,
            )
        print(
            f"events rally: {done.get('attended', 0)} of {len(rally)} checked in;"
            " target ≥ 300/s at p99 ≤ 100 ms (the rally line)",
            flush=True,
        )
        print(
            f"events rsvp burst: {options.burst} simultaneous yeses in {rsvp.seconds:.2f} s"
            f" wall time ({places.get('registered', 0)} registered,"
            f" {places.get('waitlisted', 0)} waitlisted, {len(rsvp.errors)} errors,"
            f" {late} answered after Twilio's 15 s)",
            flush=True,
        )
        succeeded = True
    finally:
        await finish(
            children, db_url, bench_redis, logs, succeeded=succeeded,
            whose="the bot's and the fake's", name="events",
        )  # fmt: skip


def main() -> None:
    aio.run(run(Options.from_env()))


if __name__ == "__main__":
    main()
