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
``MessageSid``. The throughput window closes when the last webhook has answered *and*
the fake Twilio has received every REST reply.

Environment (defaults in brackets): ``VCK_BENCH_INBOUND_MESSAGES`` [10000],
``VCK_BENCH_INBOUND_WARMUP`` [500], ``VCK_BENCH_INBOUND_SENDERS`` [2000],
``VCK_BENCH_INBOUND_CONCURRENCY`` [32], ``VCK_BENCH_INBOUND_SECONDS`` [80, a cap on the
measured phase], ``VCK_BENCH_INBOUND_CHANNEL`` [whatsapp; ``sms`` uses non-Indian
numbers, whose replies are all TwiML], ``VCK_BENCH_INBOUND_PROCESSES`` [1; more runs that
many ``vck serve`` processes, each on its own port, and spreads the messages over them].

Run: ``uv run python -m benchmarks inbound`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import contextlib
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
REQUEST_TIMEOUT = 10.0
PATH = "/webhooks/twilio"


@dataclass(frozen=True)
class Options:
    messages: int
    warmup: int
    senders: int
    concurrency: int
    seconds: float
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
            warmup=int(env("VCK_BENCH_INBOUND_WARMUP", "500")),
            senders=int(env("VCK_BENCH_INBOUND_SENDERS", "2000")),
            concurrency=int(env("VCK_BENCH_INBOUND_CONCURRENCY", "32")),
            seconds=float(env("VCK_BENCH_INBOUND_SECONDS", "80")),
            channel=channel,
            processes=int(env("VCK_BENCH_INBOUND_PROCESSES", "1")),
        )


def sender_numbers(options: Options) -> list[str]:
    """Distinct E.164 numbers: Indian mobiles on WhatsApp; on SMS, UK numbers (Indian
    SMS goes through the DLT provider's webhook, not Twilio's)."""
    first = 919_800_000_000 if options.channel is Channel.WHATSAPP else 447_700_000_000
    return [f"+{first + i}" for i in range(options.senders)]


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]
    twiml: bool
    """Whether the reply comes back as TwiML (else through the REST API)."""


@dataclass
class Phase:
    """The outcome of sending one batch of requests."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    twiml_messages: int = 0
    unanswered: int = 0
    """200 answers with no <Message> where one was due (SMS, or the name question)."""
    answered: int = 0
    """200 answers."""
    started: float = 0.0
    finished: float = 0.0
    error_samples: list[str] = field(default_factory=list)


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
) -> list[Request]:
    """Every request, signed for the bot process it goes to, before the clock starts (the
    load generator shares the cores with the server)."""
    prefix = "whatsapp:" if options.channel is Channel.WHATSAPP else ""
    run = f"{time.time_ns():x}"[-10:]
    requests = []
    for k in range(options.warmup + options.messages + PROBE_MESSAGES):
        sender = numbers[k % len(numbers)]
        text = SEQUENCE[(k // len(numbers)) % len(SEQUENCE)]
        url = bot_urls[k % len(bot_urls)] + PATH
        sid = f"SM{run}{k:022d}"
        form = fake_twilio.inbound_form(prefix + sender, text, sid=sid, account_sid=account_sid)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": fake_twilio.sign(auth_token, url, form),
        }
        # On WhatsApp, replies with 1–3 choices leave as quick replies through REST.
        twiml = options.channel is Channel.SMS or text == "1"
        requests.append(Request(url, urlencode(form).encode(), headers, twiml))
    return requests


async def send_all(
    client: aiohttp.ClientSession, requests: list[Request], concurrency: int, deadline: float
) -> Phase:
    phase = Phase()
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(requests) and time.perf_counter() < deadline:
            request = requests[position]
            position += 1
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    async with client.post(
                        request.url, data=request.body, headers=request.headers
                    ) as response:
                        text = await response.text()
                        status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                phase.errors += 1
                if len(phase.error_samples) < 3:
                    phase.error_samples.append(repr(exc))
                continue
            phase.latencies.append(time.perf_counter() - started)
            if status != 200:
                phase.errors += 1
                if len(phase.error_samples) < 3:
                    phase.error_samples.append(f"HTTP {status}: {text[:200]}")
                continue
            phase.answered += 1
            count = text.count("<Message>")
            phase.twiml_messages += count
            if request.twiml and count == 0:
                phase.unanswered += 1

    phase.started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.finished = time.perf_counter()
    return phase


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
    """Poll the fake until it has ``expected`` messages; the count and when it got there."""
    deadline = time.perf_counter() + within
    while True:
        count = await fake_sent_count(client, fake_url)
        if count >= expected or time.perf_counter() > deadline:
            return count, time.perf_counter()
        await asyncio.sleep(0.02)


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
            f"{options.processes} bot process{'es' if options.processes > 1 else ''})"
        )
        fake = start_fake(fake_port, account_sid, auth_token, logs)
        for url in bot_urls:
            bots.append(start_bot(int(url.rsplit(":", 1)[1]), env, logs))
        await wait_http_ok(f"{fake_url}/_fake/sent", fake)
        for url, bot in zip(bot_urls, bots, strict=True):
            await wait_http_ok(f"{url}/healthz", bot)

        requests = build_requests(options, numbers, bot_urls, auth_token, account_sid)
        measured_end = options.warmup + options.messages
        warmup, measured = requests[: options.warmup], requests[options.warmup : measured_end]
        probes = requests[measured_end:]
        connector = aiohttp.TCPConnector(limit=options.concurrency + 4)
        async with aiohttp.ClientSession(connector=connector) as client:
            phase = await send_all(client, warmup, options.concurrency, time.perf_counter() + 20)
            await wait_for_rest_sends(client, fake_url, phase.answered - phase.twiml_messages)
            async with client.post(f"{fake_url}/_fake/reset") as response:
                response.raise_for_status()

            meter = CpuMeter(bots, fake, redis_port=bench_redis.rsplit(":", 1)[1].split("/")[0])
            meter.start()
            deadline = time.perf_counter() + options.seconds
            phase = await send_all(client, measured, options.concurrency, deadline)
            expected_rest = max(0, phase.answered - phase.twiml_messages - phase.unanswered)
            rest_sent = await fake_sent_count(client, fake_url)
            end = phase.finished
            if rest_sent < expected_rest:
                rest_sent, end = await wait_for_rest_sends(client, fake_url, expected_rest)
            cpu = await meter.stop()
            probe = await send_all(client, probes, 1, time.perf_counter() + 10)

        report(options, phase, end, rest_sent, expected_rest, cpu)
        latencies = sorted(probe.latencies)
        print(f"inbound p50, one message at a time: {percentile(latencies, 0.50) * 1000:.1f} ms")
        print(f"inbound p99, one message at a time: {percentile(latencies, 0.99) * 1000:.1f} ms")
        if probe.errors:
            print(f"inbound errors, one message at a time: {probe.errors} requests")
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


def report(
    options: Options,
    phase: Phase,
    end: float,
    rest_sent: int,
    expected_rest: int,
    cpu: dict[str, float],
) -> None:
    elapsed = end - phase.started
    answered = phase.answered
    latencies = sorted(phase.latencies)
    missing = phase.unanswered + max(0, expected_rest - rest_sent)
    per_msg = 1000.0 / max(answered, 1)
    print(
        f"inbound messages: {answered} answered in {elapsed:.1f} s "
        f"({options.concurrency} in flight, {options.channel.value}, {options.warmup} warm-up, "
        f"{options.processes} bot process{'es' if options.processes > 1 else ''})"
    )
    print(f"inbound menu navigation: {answered / elapsed:.0f} msg/s")
    print(f"inbound p50: {percentile(latencies, 0.50) * 1000:.1f} ms")
    print(f"inbound p99: {percentile(latencies, 0.99) * 1000:.1f} ms")
    print(f"inbound max: {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms")
    print(f"inbound errors (non-200 or no answer): {phase.errors} requests")
    print(
        f"inbound replies: {phase.twiml_messages} as TwiML + {rest_sent} through REST, "
        f"{missing} missing"
    )
    for key, label in (
        ("bot", "bot process" if options.processes == 1 else "bot processes"),
        ("postgres", "PostgreSQL backends"),
        ("redis", "Redis server"),
        ("generator", "load generator"),
        ("fake", "fake Twilio"),
        ("machine", "whole machine"),
    ):
        print(f"inbound CPU, {label}: {cpu[key] * per_msg:.2f} ms/msg")
    print(f"inbound CPU, machine busy: {100 * cpu['machine_share']:.0f} %")
    if cpu["bot"] > 0:
        # What the bot's own CPU cost allows per core, whatever else shares the machine.
        print(f"inbound bot capacity per core of CPU: {answered / cpu['bot']:.0f} msg/s")
    if phase.error_samples:
        print("inbound error samples: " + " | ".join(phase.error_samples))


def main() -> None:
    asyncio.run(run(Options.from_env()))


if __name__ == "__main__":
    main()
