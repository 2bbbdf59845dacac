"""Inbound speed as a ratio to its floor: ``POST /webhooks/twilio`` on the bot against a
trivial handler, both measured in the same run on the same machine.

What one measured message costs is everything a real one costs: the ``X-Twilio-Signature``
check (real signatures over the public URL), the exactly-once claim in the inbound log,
the conversation's lock and state, the flow step, the reply recorded (all in one
PostgreSQL transaction), and the reply handed off — as TwiML in the webhook answer or,
for WhatsApp quick replies and lists, through the Twilio REST API (a local fake Twilio)
right after.

The floor is :mod:`benchmarks.trivial`: an aiohttp app that checks the signature with
twilio's ``RequestValidator`` and answers an empty ``<Response/>``, run as its own
processes like the bot. The machine is shared and its speed drifts, so the floor is
measured twice, before and after the workloads, and the mean is divided by.

The workloads (:mod:`benchmarks.inbound_workloads`): **first contact** (new numbers say
hello, choose a language, get the privacy notice) and **navigation** (consented members
walk the menu and answer its questions). Each, after a warm-up: ``CONCURRENCY`` requests
always in flight (closed loop) for ``SECONDS``; the window closes when the last webhook
has answered *and* the fake Twilio has received every REST reply. The load generator
(:mod:`benchmarks.loadgen`) runs in this process, on the same cores. Target, from issue 9:
each workload at ≥ 0.25 × the trivial handler's msgs/s, with p99 ≤ 50 ms.

Setup (all on loopback): a fresh database ``vck_bench_inbound`` (migrated, demo data,
``MEMBERS`` members), its Redis database flushed, a fake Twilio, the bot (``vck serve``)
and the trivial handler as child processes; all dropped or stopped at the end. The
senders' rate limit is set out of the way (:data:`UNPACED`): at WhatsApp's 80/s, replies
beyond it would wait and go to a worker's queue, and the figure would be the provider's.

Environment (defaults in brackets): ``VCK_BENCH_INBOUND_SECONDS`` [20, per workload; the
floor gets half before and half after], ``VCK_BENCH_INBOUND_WARMUP_SECONDS`` [3],
``VCK_BENCH_INBOUND_CONCURRENCY`` [32], ``VCK_BENCH_INBOUND_MEMBERS`` [2000],
``VCK_BENCH_INBOUND_CHANNEL`` [whatsapp; ``sms`` uses UK numbers, whose replies are all
TwiML], ``VCK_BENCH_INBOUND_PROCESSES`` [the number of cores: bot processes, and as many
trivial ones, each on its own port, the requests spread over them],
``VCK_BENCH_INBOUND_DB`` [vck_bench_inbound], ``VCK_BENCH_INBOUND_REDIS_DB`` [9] (two
benchmarks at once on one server need their own), ``VCK_BENCH_INBOUND_PROFILE`` [unset; a
directory: py-spy samples the bot during each workload, its stacks are kept there and the
costliest frames printed — see :mod:`benchmarks.cpu_profile`; figures of such a run are lower].

Run: ``uv run python -m benchmarks inbound`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from benchmarks import cpu_profile, loadgen
from benchmarks import inbound_report as report
from benchmarks.common import (
    LOOPBACK,
    Child,
    database_url,
    finish,
    flush_redis,
    loopback_urls,
    migrated_database,
    port_of,
    redis_url,
    start_bot,
    wait_http_ok,
)
from benchmarks.inbound_report import Measured, Tally
from benchmarks.inbound_workloads import Planned, Planner, add_members, member_numbers
from benchmarks.meter import CpuMeter
from core import aio
from core.channels.base import Channel
from core.config import Settings, load_settings
from core.db import make_engine, make_session_factory
from core.seed.demo import load_demo

PLANNED_SHARE = 0.6
"""Requests signed per workload: this share of what the trivial handler answered in the
same time. A workload faster than that runs out early (its figures still hold)."""
STARTUP_SECONDS = 120.0
TRIVIAL_DISTINCT = 2000
"""Distinct signed requests for the trivial handler, sent over and over…"""
TRIVIAL_REQUESTS = 400_000
"""… up to this many in a phase: more than it answers in one here."""


@dataclass(frozen=True)
class Options:
    seconds: float
    warmup_seconds: float
    concurrency: int
    members: int
    channel: Channel
    processes: int
    database: str
    redis_db: int
    profile: Path | None

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ.get
        channel = Channel(env("VCK_BENCH_INBOUND_CHANNEL", "whatsapp"))
        if channel not in (Channel.WHATSAPP, Channel.SMS):
            raise SystemExit("VCK_BENCH_INBOUND_CHANNEL is whatsapp or sms")
        return cls(
            seconds=float(env("VCK_BENCH_INBOUND_SECONDS", "20")),
            warmup_seconds=float(env("VCK_BENCH_INBOUND_WARMUP_SECONDS", "3")),
            concurrency=int(env("VCK_BENCH_INBOUND_CONCURRENCY", "32")),
            members=int(env("VCK_BENCH_INBOUND_MEMBERS", "2000")),
            channel=channel,
            processes=int(env("VCK_BENCH_INBOUND_PROCESSES", str(os.cpu_count() or 1))),
            database=env("VCK_BENCH_INBOUND_DB", "vck_bench_inbound"),
            redis_db=int(env("VCK_BENCH_INBOUND_REDIS_DB", "9")),
            profile=Path(where) if (where := env("VCK_BENCH_INBOUND_PROFILE")) else None,
        )


async def prepare_database(url: str, options: Options, numbers: list[str]) -> None:
    await migrated_database(url)
    engine = make_engine(url, pool_size=1)
    try:
        factory = make_session_factory(engine)
        async with factory.begin() as session:
            await load_demo(session)
        async with factory.begin() as session:
            await add_members(session, options.channel, numbers, now=datetime.now(UTC))
    finally:
        await engine.dispose()


# --- the fake Twilio's side ------------------------------------------------------------


async def fake_count(client: aiohttp.ClientSession, fake_url: str) -> int:
    async with client.get(f"{fake_url}/_fake/count") as response:
        return int((await response.json())["sent"])


async def wait_for_rest_sends(
    client: aiohttp.ClientSession, fake_url: str, expected: int, within: float = 15.0
) -> tuple[int, float]:
    """Poll the fake until it has received ``expected`` messages: how many it had, and
    when the last one had arrived."""
    deadline = time.perf_counter() + within
    while True:
        count = await fake_count(client, fake_url)
        arrived = time.perf_counter()
        if count >= expected or arrived > deadline:
            return count, arrived
        await asyncio.sleep(0.01)


async def reset_fake(client: aiohttp.ClientSession, fake_url: str) -> None:
    async with client.post(f"{fake_url}/_fake/reset") as response:
        response.raise_for_status()


# --- the run ---------------------------------------------------------------------------


def start_fake(port: int, account_sid: str, auth_token: str, logs: Path) -> Child:
    argv = [sys.executable, "-m", "fakes.twilio", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--account-sid", account_sid, "--auth-token", auth_token]
    return Child(argv, log=logs / "fake-twilio.log")


def start_trivial(port: int, env: dict[str, str], logs: Path) -> Child:
    argv = [sys.executable, "-m", "benchmarks.trivial", "--host", LOOPBACK, "--port", str(port)]
    return Child(argv, env=env, log=logs / f"trivial-{port}.log")


UNPACED = "1000000"
"""The senders' rate in these benches: out of the way. They measure what the bot costs per
message; a real WhatsApp sender's 80 messages/s (FACTS.md) would make every reply past
that wait for its token and then go to the worker's queue (no worker runs here)."""


def twilio_env(db_url: str, redis: str, fake_url: str, settings: Settings) -> dict[str, str]:
    """The servers' environment: the run's database and Redis, Twilio at ``fake_url``,
    the senders unpaced (:data:`UNPACED`)."""
    return {
        "VCK_RATE_WHATSAPP_PER_SEC": UNPACED,
        "VCK_RATE_SMS_TWILIO_PER_SEC": UNPACED,
        "VCK_DATABASE_URL": db_url,
        "VCK_REDIS_URL": redis,
        "VCK_TWILIO_API_BASE_URL": fake_url,
        "VCK_TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "VCK_TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "VCK_LOG_LEVEL": "WARNING",
    }


async def start_servers(
    bot_urls: list[str], trivial_urls: list[str], env: dict[str, str], logs: Path,
    children: list[Child],
) -> tuple[list[Child], list[Child]]:  # fmt: skip
    """``vck serve`` at each of ``bot_urls`` and the trivial handler at each of
    ``trivial_urls`` (added to ``children`` as they start, to be stopped whatever
    happens), each waited for until its ``/healthz`` answers."""
    bots = [start_bot(port_of(url), env, logs) for url in bot_urls]
    children += bots
    trivials = [start_trivial(port_of(url), env, logs) for url in trivial_urls]
    children += trivials
    # Several Pythons importing at once on a shared machine: give them time.
    for url, child in zip(bot_urls + trivial_urls, bots + trivials, strict=True):
        await wait_http_ok(f"{url}/healthz", child, within=STARTUP_SECONDS)
    return bots, trivials


class Bench:
    """The processes of one run, and how to measure one phase against them."""

    def __init__(self, options: Options, client: aiohttp.ClientSession, fake_url: str) -> None:
        self.options, self.client, self.fake_url = options, client, fake_url

    async def phase(
        self, planned: list[Planned], seconds: float, meter: CpuMeter | None, *, rest: bool
    ) -> Measured:
        """Send ``planned`` closed loop for at most ``seconds``; with ``rest``, the phase
        ends when the fake has every REST reply too."""
        if rest:
            await reset_fake(self.client, self.fake_url)
        if meter:
            meter.start()
        requests = [p.request for p in planned]
        phase = await loadgen.closed_loop_for(requests, self.options.concurrency, seconds)
        tally = Tally.of(phase, planned)
        end, rest_sent = phase.finished, 0
        if rest:
            rest_sent, end = await wait_for_rest_sends(
                self.client, self.fake_url, tally.expected_rest
            )
        cpu = await meter.stop() if meter else {}
        return Measured(phase, tally, end - phase.started, rest_sent, cpu)

    async def workload(
        self,
        label: str,
        plan: Callable[[int], list[Planned]],
        rate_hint: float,
        bots: list[Child],
        meter: CpuMeter,
    ) -> Measured:
        """Warm up, then measure one workload; ``plan(n)`` signs its next ``n`` requests,
        as many as ``PLANNED_SHARE`` of the floor (``rate_hint``/s) would answer. With
        ``options.profile``, py-spy samples the bots while it is measured."""

        def size(seconds: float) -> int:
            return max(500, int(rate_hint * seconds * PLANNED_SHARE))

        warmup = plan(size(self.options.warmup_seconds))
        await self.phase(warmup, self.options.warmup_seconds, None, rest=True)
        measured = plan(size(self.options.seconds))
        if self.options.profile is None:
            return await self.phase(measured, self.options.seconds, meter, rest=True)
        slug = label.replace(" ", "-")
        recorder = cpu_profile.Recorder([bot.pid for bot in bots], self.options.profile, slug)
        try:
            result = await self.phase(measured, self.options.seconds, meter, rest=True)
        finally:
            paths = await asyncio.to_thread(recorder.stop)
        result.profile = cpu_profile.read_samples(paths)
        return result


async def run(options: Options) -> None:
    settings = load_settings()
    db_url = database_url(options.database)
    bench_redis = redis_url(options.redis_db)
    fake_url, *bot_urls = loopback_urls(1 + options.processes)
    trivial_urls = loopback_urls(options.processes)
    auth_token = settings.twilio_auth_token.get_secret_value()
    account_sid = settings.twilio_account_sid
    numbers = member_numbers(options.channel, options.members)
    logs = Path(tempfile.mkdtemp(prefix="vck-bench-inbound-"))
    env = twilio_env(db_url, bench_redis, fake_url, settings)
    children: list[Child] = []
    succeeded = False
    try:
        started = time.perf_counter()
        await prepare_database(db_url, options, numbers)
        await flush_redis(bench_redis)
        report.setup(options.members, options.channel, options.processes, started)
        started = time.perf_counter()
        fake = start_fake(port_of(fake_url), account_sid, auth_token, logs)
        children.append(fake)
        bots, trivials = await start_servers(bot_urls, trivial_urls, env, logs, children)
        await wait_http_ok(f"{fake_url}/_fake/count", fake, within=STARTUP_SECONDS)
        print(f"inbound processes up: {time.perf_counter() - started:.1f} s", flush=True)

        make = Planner(options.channel, bot_urls, auth_token, account_sid)
        redis_port = bench_redis.rsplit(":", 1)[1].split("/")[0]

        def meter(processes: list[Child]) -> CpuMeter:
            parties = {"server": lambda: sum(p.cpu_seconds() for p in processes)}
            parties["fake"] = fake.cpu_seconds
            return CpuMeter(parties, database=options.database, redis_port=redis_port)

        async with aiohttp.ClientSession() as client:
            bench = Bench(options, client, fake_url)
            half = options.seconds / 2
            floor = make.trivial(numbers[0], trivial_urls, TRIVIAL_DISTINCT, TRIVIAL_REQUESTS)
            await bench.phase(floor, options.warmup_seconds, None, rest=False)
            before = await bench.phase(floor, half, meter(trivials), rest=False)
            hint = before.rate
            first = await bench.workload(
                "first contact", make.first_contact, hint, bots, meter(bots)
            )
            navigation = await bench.workload(
                "navigation", lambda n: make.navigation(numbers, n), hint, bots, meter(bots)
            )
            after = await bench.phase(floor, half, meter(trivials), rest=False)
        trivial_rate = report.trivial(options, before, after)
        report.workload("first contact", options, first, trivial_rate)
        report.workload("navigation", options, navigation, trivial_rate)
        succeeded = True
    finally:
        await finish(
            children, db_url, bench_redis, logs, succeeded=succeeded,
            whose="the bot's and the fake's", name="inbound",
        )  # fmt: skip


def main() -> None:
    aio.run(run(Options.from_env()))


if __name__ == "__main__":
    main()
