"""Inbound throughput and latency: menu navigation through ``POST /webhooks/twilio``.

What one measured message costs is everything a real one costs: the ``X-Twilio-Signature``
check (real signatures over the public URL), the exactly-once claim in the inbound
log, the conversation state in Redis, the flow step, the reply recorded in PostgreSQL,
and the reply handed off — as TwiML in the webhook answer, or, for WhatsApp quick
replies, sent through the Twilio REST API (a local fake Twilio) right after.

Setup (all on loopback): a fresh database ``vck_bench_inbound`` (migrated, demo data),
Redis database 9 flushed, a fake Twilio and the bot (``vck serve``) as child processes.
``SENDERS`` WhatsApp numbers have already chosen a language and consented, but are not
members; each of them walks the main menu in turn:

    "menu"  → the main menu                        (3 choices → quick-reply REST send)
    "1"     → Join the party → asks the full name  (TwiML)
    "0"     → "Cancelled. Nothing was saved." + menu (REST)
    "3"     → Help + menu                            (REST)

Messages go round-robin over the senders, so one sender's next message is thousands of
requests later (never two of one sender in flight). Every request carries a unique
``MessageSid``. The load generator (:mod:`benchmarks.loadgen`) writes pre-signed requests
over kept-alive connections, so that it takes little of the CPU it measures.

Two measurements, after a warm-up:

- **throughput**: ``CONCURRENCY`` requests always in flight, as fast as the bot answers;
  the window closes when the last webhook has answered *and* the fake Twilio has
  received every REST reply;
- **latency at a rate**: requests offered at each of the ``RATES`` per second for
  ``RATE_SECONDS`` whatever the bot does; p50/p99 count from when each request was due.

Environment (defaults in brackets): ``VCK_BENCH_INBOUND_MESSAGES`` [10000],
``VCK_BENCH_INBOUND_WARMUP`` [1000], ``VCK_BENCH_INBOUND_SENDERS`` [2000],
``VCK_BENCH_INBOUND_CONCURRENCY`` [32], ``VCK_BENCH_INBOUND_SECONDS`` [80, a cap on the
throughput phase], ``VCK_BENCH_INBOUND_RATES`` [300,400,500],
``VCK_BENCH_INBOUND_RATE_SECONDS`` [15], ``VCK_BENCH_INBOUND_CHANNEL`` [whatsapp; ``sms``
uses non-Indian numbers, whose replies are all TwiML], ``VCK_BENCH_INBOUND_PROCESSES``
[the number of cores: ``vck serve`` processes, each on its own port, the messages spread
over them].

Run: ``uv run python -m benchmarks inbound`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from redis.asyncio import Redis

from benchmarks import loadgen
from benchmarks.common import (
    LOOPBACK,
    Child,
    database_url,
    drop_database,
    free_port,
    pids_matching,
    process_cpu_seconds,
    recreate_database,
    redis_url,
    venv_script,
    wait_http_ok,
)
from core import aio
from core.channels.base import Channel
from core.config import load_settings
from core.db import make_engine, make_session_factory
from core.i18n import Language
from core.migrate import upgrade
from core.seed.demo import load_demo
from core.services import addresses
from fakes import twilio as fake_twilio

DATABASE = "vck_bench_inbound"
REDIS_DB = 9
SEQUENCE = ("menu", "1", "0", "3")
"""What each sender sends, in turn: every step answers with a real reply."""
PROBE_MESSAGES = 300
"""Sent one at a time after the measurement: the latency of a message on an idle bot."""
PATH = "/webhooks/twilio"


@dataclass(frozen=True)
class Options:
    messages: int
    warmup: int
    senders: int
    concurrency: int
    seconds: float
    rates: tuple[float, ...]
    rate_seconds: float
    channel: Channel
    processes: int

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ.get
        channel = Channel(env("VCK_BENCH_INBOUND_CHANNEL", "whatsapp"))
        if channel not in (Channel.WHATSAPP, Channel.SMS):
            raise SystemExit("VCK_BENCH_INBOUND_CHANNEL is whatsapp or sms")
        return cls(
            messages=int(env("VCK_BENCH_INBOUND_MESSAGES", "10000")),
            warmup=int(env("VCK_BENCH_INBOUND_WARMUP", "1000")),
            senders=int(env("VCK_BENCH_INBOUND_SENDERS", "2000")),
            concurrency=int(env("VCK_BENCH_INBOUND_CONCURRENCY", "32")),
            seconds=float(env("VCK_BENCH_INBOUND_SECONDS", "80")),
            rates=tuple(float(r) for r in env("VCK_BENCH_INBOUND_RATES", "300,400,500").split(",")),
            rate_seconds=float(env("VCK_BENCH_INBOUND_RATE_SECONDS", "15")),
            channel=channel,
            processes=int(env("VCK_BENCH_INBOUND_PROCESSES", str(os.cpu_count() or 1))),
        )

    def rate_messages(self, rate: float) -> int:
        return int(rate * self.rate_seconds)


def sender_numbers(options: Options) -> list[str]:
    """Distinct E.164 numbers: Indian mobiles on WhatsApp; on SMS, UK numbers (Indian
    SMS goes through the DLT provider's webhook, not Twilio's)."""
    first = 919_800_000_000 if options.channel is Channel.WHATSAPP else 447_700_000_000
    return [f"+{first + i}" for i in range(options.senders)]


@dataclass(frozen=True, slots=True)
class Planned:
    request: loadgen.Request
    twiml: bool
    """Whether the reply comes back as TwiML (else through the REST API)."""


@dataclass
class Tally:
    """A phase's answers, checked."""

    answered: int = 0
    """200 answers."""
    errors: int = 0
    twiml_messages: int = 0
    unanswered: int = 0
    """200 answers with no <Message> where one was due (SMS, or the name question)."""
    samples: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, phase: loadgen.Phase, planned: list[Planned]) -> Tally:
        tally = cls(errors=len(phase.errors), samples=phase.errors[:3])
        for index, answer in phase.answers:
            if answer.status != 200:
                tally.errors += 1
                if len(tally.samples) < 3:
                    tally.samples.append(f"HTTP {answer.status}: {answer.body[:200]!r}")
                continue
            tally.answered += 1
            count = answer.body.count(b"<Message>")
            tally.twiml_messages += count
            if planned[index].twiml and count == 0:
                tally.unanswered += 1
        return tally

    @property
    def expected_rest(self) -> int:
        return max(0, self.answered - self.twiml_messages - self.unanswered)


# --- setup -----------------------------------------------------------------------------


async def prepare_database(url: str, numbers: list[str], channel: Channel) -> None:
    await recreate_database(url)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=1)
    try:
        factory = make_session_factory(engine)
        async with factory.begin() as session:
            await load_demo(session)
        now = datetime.now(UTC)
        async with factory.begin() as session:
            for i, number in enumerate(numbers):
                language = Language.TAMIL if i % 2 == 0 else Language.ENGLISH
                await addresses.set_language(session, channel, number, language, now=now)
                await addresses.give_consent(session, channel, number, now=now)
    finally:
        await engine.dispose()


async def flush_redis(url: str) -> None:
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


# --- load ------------------------------------------------------------------------------


def build_requests(
    options: Options, numbers: list[str], bot_urls: list[str], auth_token: str, account_sid: str
) -> list[Planned]:
    """Every request, signed for the bot process it goes to, before the clock starts (the
    load generator shares the cores with the server)."""
    prefix = "whatsapp:" if options.channel is Channel.WHATSAPP else ""
    run = f"{time.time_ns():x}"[-10:]
    paced = sum(options.rate_messages(rate) for rate in options.rates)
    total = options.warmup + options.messages + paced + PROBE_MESSAGES
    planned = []
    for k in range(total):
        sender = numbers[k % len(numbers)]
        text = SEQUENCE[(k // len(numbers)) % len(SEQUENCE)]
        url = bot_urls[k % len(bot_urls)] + PATH
        sid = f"SM{run}{k:022d}"
        form = fake_twilio.inbound_form(prefix + sender, text, sid=sid, account_sid=account_sid)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": fake_twilio.sign(auth_token, url, form),
        }
        request = loadgen.encode_post(url, urlencode(form).encode(), headers)
        # On WhatsApp, replies with 1–3 choices leave as quick replies through REST.
        planned.append(Planned(request, twiml=options.channel is Channel.SMS or text == "1"))
    return planned


async def fake_sent_count(client: aiohttp.ClientSession, fake_url: str) -> int:
    """Messages the fake Twilio received that carry a reply text (Body, or the quick
    reply's ContentVariables)."""
    async with client.get(f"{fake_url}/_fake/sent") as response:
        sent = (await response.json())["sent"]
    return sum(1 for message in sent if _reply_text(message))


def _reply_text(sent: dict[str, str]) -> str:
    if sent.get("Body"):
        return sent["Body"]
    try:
        variables = json.loads(sent.get("ContentVariables") or "{}")
    except ValueError:
        return ""
    return str(variables.get("1", "")) if isinstance(variables, dict) else ""


async def wait_for_rest_sends(
    client: aiohttp.ClientSession, fake_url: str, expected: int, within: float = 15.0
) -> tuple[int, float]:
    """Poll the fake until it has received ``expected`` messages; then count those that
    carry a reply text. The count, and when the last one had arrived."""
    deadline = time.perf_counter() + within
    while True:
        async with client.get(f"{fake_url}/_fake/count") as response:
            count = (await response.json())["sent"]
        arrived = time.perf_counter()
        if count >= expected or arrived > deadline:
            return await fake_sent_count(client, fake_url), arrived
        await asyncio.sleep(0.01)


async def reset_fake(client: aiohttp.ClientSession, fake_url: str) -> None:
    async with client.post(f"{fake_url}/_fake/reset") as response:
        response.raise_for_status()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by each party to a message: the
    bot, the load generator (this process), the fake Twilio, the PostgreSQL backends
    serving the bench database, the Redis server — and the whole machine, which other
    work may share.

    PostgreSQL backends come and go (the bot's pool closes its overflow connections),
    so they are sampled every ``SAMPLE_SECONDS``; a backend's last moments before it
    exits are missed, which makes that figure a slight underestimate."""

    SAMPLE_SECONDS = 0.25

    def __init__(self, bots: list[Child], fake: Child, *, redis_port: str) -> None:
        self.bots, self.fake, self.redis_port = bots, fake, redis_port
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._start: dict[str, float] = {}

    def _sample_postgres(self) -> None:
        for pid in pids_matching("postgres:", DATABASE):
            cpu = process_cpu_seconds(pid)
            if cpu:
                self._first.setdefault(pid, cpu if self._task is None else 0.0)
                self._last[pid] = max(cpu, self._last.get(pid, 0.0))

    async def _sampler(self) -> None:
        while True:
            await asyncio.sleep(self.SAMPLE_SECONDS)
            self._sample_postgres()

    def _totals(self) -> dict[str, float]:
        redis = pids_matching("redis-server", f":{self.redis_port}")
        busy, total = machine_busy_seconds()
        return {
            "bot": sum(bot.cpu_seconds() for bot in self.bots),
            "fake": self.fake.cpu_seconds(),
            "generator": time.process_time(),
            "redis": sum(process_cpu_seconds(pid) for pid in redis),
            "machine": busy,
            "machine_total": total,
        }

    def start(self) -> None:
        """Start a measurement (a meter measures one phase at a time, afresh)."""
        self._first.clear()
        self._last.clear()
        self._task = None
        self._sample_postgres()
        self._task = asyncio.create_task(self._sampler())
        self._start = self._totals()

    async def stop(self) -> dict[str, float]:
        end = self._totals()
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sample_postgres()
        span = end["machine_total"] - self._start["machine_total"]
        used = {key: end[key] - self._start[key] for key in end if key != "machine_total"}
        used["postgres"] = sum(cpu - self._first.get(pid, 0.0) for pid, cpu in self._last.items())
        used["machine_share"] = used["machine"] / max(span, 1e-9)
        return used


# --- the run ---------------------------------------------------------------------------


def start_fake(port: int, account_sid: str, auth_token: str, logs: Path) -> Child:
    argv = [sys.executable, "-m", "fakes.twilio", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--account-sid", account_sid, "--auth-token", auth_token]
    return Child(argv, log=logs / "fake-twilio.log")


def start_bot(port: int, env: dict[str, str], logs: Path) -> Child:
    """``vck serve`` as providers reach it: its public URL is its own loopback address."""
    env = {**env, "VCK_PUBLIC_BASE_URL": f"http://{LOOPBACK}:{port}"}
    argv = [venv_script("vck"), "serve", "--host", LOOPBACK, "--port", str(port)]
    return Child(argv, env=env, log=logs / f"bot-{port}.log")


async def run(options: Options) -> None:
    settings = load_settings()
    db_url = database_url(DATABASE)
    bench_redis = redis_url(REDIS_DB)
    fake_port = free_port()
    bot_urls = [f"http://{LOOPBACK}:{free_port()}" for _ in range(options.processes)]
    fake_url = f"http://{LOOPBACK}:{fake_port}"
    auth_token = settings.twilio_auth_token.get_secret_value()
    account_sid = settings.twilio_account_sid
    numbers = sender_numbers(options)
    logs = Path(tempfile.mkdtemp(prefix="vck-bench-inbound-"))
    env = {
        "VCK_DATABASE_URL": db_url,
        "VCK_REDIS_URL": bench_redis,
        "VCK_TWILIO_API_BASE_URL": fake_url,
        "VCK_TWILIO_AUTH_TOKEN": auth_token,
        "VCK_TWILIO_ACCOUNT_SID": account_sid,
        "VCK_LOG_LEVEL": "WARNING",
    }
    fake: Child | None = None
    bots: list[Child] = []
    succeeded = False
    try:
        started = time.perf_counter()
        await prepare_database(db_url, numbers, options.channel)
        await flush_redis(bench_redis)
        print(
            f"inbound setup: {time.perf_counter() - started:.1f} s "
            f"({options.senders} consented {options.channel.value} senders, "
            f"{_processes(options)})"
        )
        fake = start_fake(fake_port, account_sid, auth_token, logs)
        for url in bot_urls:
            bots.append(start_bot(int(url.rsplit(":", 1)[1]), env, logs))
        await wait_http_ok(f"{fake_url}/_fake/sent", fake)
        for url, bot in zip(bot_urls, bots, strict=True):
            await wait_http_ok(f"{url}/healthz", bot)

        planned = build_requests(options, numbers, bot_urls, auth_token, account_sid)
        sizes = (options.warmup, options.messages, *map(options.rate_messages, options.rates))
        cut = [0, *itertools.accumulate(sizes)]
        warmup, measured = planned[: cut[1]], planned[cut[1] : cut[2]]
        paced = [planned[a:b] for a, b in itertools.pairwise(cut[2:])]
        probes = planned[cut[-1] :]
        meter = CpuMeter(bots, fake, redis_port=bench_redis.rsplit(":", 1)[1].split("/")[0])
        pool = loadgen.Pool()
        try:
            async with aiohttp.ClientSession() as client:
                phase = await loadgen.closed_loop(
                    pool, [p.request for p in warmup], options.concurrency, time.perf_counter() + 30
                )
                await wait_for_rest_sends(client, fake_url, Tally.of(phase, warmup).expected_rest)
                await reset_fake(client, fake_url)

                meter.start()
                deadline = time.perf_counter() + options.seconds
                phase = await loadgen.closed_loop(
                    pool, [p.request for p in measured], options.concurrency, deadline
                )
                tally = Tally.of(phase, measured)
                rest_sent, end = await wait_for_rest_sends(client, fake_url, tally.expected_rest)
                cpu = await meter.stop()
                report_throughput(options, phase, tally, end, rest_sent, cpu)

                for rate, batch in zip(options.rates, paced, strict=True):
                    await reset_fake(client, fake_url)
                    meter.start()
                    phase = await loadgen.open_loop(pool, [p.request for p in batch], rate)
                    tally = Tally.of(phase, batch)
                    rest_sent, end = await wait_for_rest_sends(
                        client, fake_url, tally.expected_rest
                    )
                    cpu = await meter.stop()
                    report_paced(options, rate, phase, tally, end, rest_sent, cpu)

                probe = await loadgen.closed_loop(
                    pool, [p.request for p in probes], 1, time.perf_counter() + 10
                )
        finally:
            pool.close()
        latencies = sorted(probe.latencies)
        print(f"inbound p50, one message at a time: {percentile(latencies, 0.50) * 1000:.1f} ms")
        print(f"inbound p99, one message at a time: {percentile(latencies, 0.99) * 1000:.1f} ms")
        if probe.errors:
            print(f"inbound errors, one message at a time: {len(probe.errors)} requests")
        succeeded = True
    finally:
        for child in [*bots, fake]:
            if child is not None:
                child.stop()
        await drop_database(db_url)
        await flush_redis(bench_redis)
        if succeeded:
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"inbound: the bot's and the fake's logs are in {logs}", flush=True)


def _processes(options: Options) -> str:
    return f"{options.processes} bot process{'es' if options.processes > 1 else ''}"


def _latencies(label: str, phase: loadgen.Phase) -> None:
    latencies = sorted(phase.latencies)
    print(f"inbound {label} p50: {percentile(latencies, 0.50) * 1000:.1f} ms")
    print(f"inbound {label} p99: {percentile(latencies, 0.99) * 1000:.1f} ms")
    print(f"inbound {label} max: {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms")


def _answers(label: str, tally: Tally, rest_sent: int) -> None:
    missing = tally.unanswered + max(0, tally.expected_rest - rest_sent)
    print(f"inbound {label} errors (non-200 or no answer): {tally.errors} requests")
    print(
        f"inbound {label} replies: {tally.twiml_messages} as TwiML + {rest_sent} through REST, "
        f"{missing} missing"
    )
    if tally.samples:
        print(f"inbound {label} error samples: " + " | ".join(tally.samples))


def _cpu(label: str, options: Options, cpu: dict[str, float], answered: int) -> None:
    per_msg = 1000.0 / max(answered, 1)
    parts = (
        ("bot", "bot"),
        ("postgres", "PostgreSQL"),
        ("redis", "Redis"),
        ("generator", "load generator"),
        ("fake", "fake Twilio"),
        ("machine", "whole machine"),
    )
    shares = ", ".join(f"{name} {cpu[key] * per_msg:.2f}" for key, name in parts)
    print(f"inbound {label} CPU ms/msg: {shares}")
    print(f"inbound {label} machine busy: {100 * cpu['machine_share']:.0f} %")


def report_throughput(
    options: Options,
    phase: loadgen.Phase,
    tally: Tally,
    end: float,
    rest_sent: int,
    cpu: dict[str, float],
) -> None:
    elapsed = end - phase.started
    answered = tally.answered
    print(
        f"inbound throughput: {answered} answered in {elapsed:.1f} s "
        f"({options.concurrency} in flight, {options.channel.value}, {_processes(options)})"
    )
    print(f"inbound menu navigation: {answered / elapsed:.0f} msg/s")
    _latencies("throughput", phase)
    _answers("throughput", tally, rest_sent)
    _cpu("throughput", options, cpu, answered)
    if cpu["bot"] > 0:
        # What the bot's own CPU cost allows per core, whatever else shares the machine.
        print(f"inbound bot capacity per core of CPU: {answered / cpu['bot']:.0f} msg/s")


def report_paced(
    options: Options,
    rate: float,
    phase: loadgen.Phase,
    tally: Tally,
    end: float,
    rest_sent: int,
    cpu: dict[str, float],
) -> None:
    label = f"at {rate:.0f}/s"
    print(
        f"inbound {label}: {tally.answered} answered of {len(phase.answers) + len(phase.errors)}"
        f" offered over {phase.seconds:.1f} s ({_processes(options)}),"
        f" all replies out after {end - phase.started:.1f} s"
    )
    _latencies(label, phase)
    _answers(label, tally, rest_sent)
    _cpu(label, options, cpu, tally.answered)


def main() -> None:
    aio.run(run(Options.from_env()))


if __name__ == "__main__":
    main()
