"""The inbound benchmark's figures: one line each, with its unit, and the targets of
issue 9 beside the figures they judge."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks import loadgen
from benchmarks.cpu_profile import Samples
from benchmarks.cpu_profile import report as report_profile
from benchmarks.inbound_workloads import Planned
from benchmarks.meter import percentile
from core.channels.base import Channel

if TYPE_CHECKING:
    from benchmarks.inbound import Options

TARGET_RATIO = 0.25
"""Each workload at least this share of the trivial handler's messages per second…"""
TARGET_P99_MS = 50.0
"""… with its 99th percentile latency at most this."""


@dataclass
class Tally:
    """A phase's answers, checked."""

    answered: int = 0
    """200 answers."""
    errors: int = 0
    twiml_messages: int = 0
    unanswered: int = 0
    """200 answers with no <Message> where one was due (on SMS)."""
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


@dataclass
class Measured:
    """One closed-loop phase: what was answered over how long, and by whom the CPU went."""

    phase: loadgen.Phase
    tally: Tally
    seconds: float
    """From the first request to the last answer (and the last REST reply, if any)."""
    rest_sent: int
    cpu: dict[str, float]
    profile: Samples | None = None

    @property
    def rate(self) -> float:
        return self.tally.answered / max(self.seconds, 1e-9)

    def latency_ms(self, fraction: float) -> float:
        return percentile(sorted(self.phase.latencies), fraction) * 1000


def setup(members: int, channel: Channel, processes: int, started: float) -> None:
    print(
        f"inbound setup: {time.perf_counter() - started:.1f} s ({members} consented members "
        f"on {channel.value}; {processes} bot and {processes} trivial-handler processes)",
        flush=True,
    )


def trivial(options: Options, before: Measured, after: Measured) -> float:
    """Print the floor (the mean of its two measurements) and return it in msgs/s."""
    rate = (before.rate + after.rate) / 2
    print(
        f"inbound trivial handler (signature check, empty TwiML): {rate:.0f} msg/s "
        f"(before the workloads {before.rate:.0f}, after {after.rate:.0f}; "
        f"{options.concurrency} in flight)"
    )
    latencies = sorted(before.phase.latencies + after.phase.latencies)
    print(f"inbound trivial handler p50: {percentile(latencies, 0.50) * 1000:.1f} ms")
    print(f"inbound trivial handler p99: {percentile(latencies, 0.99) * 1000:.1f} ms")
    errors = before.tally.errors + after.tally.errors
    if errors:
        samples = before.tally.samples + after.tally.samples
        print(f"inbound trivial handler errors: {errors} requests: " + " | ".join(samples[:3]))
    _cpu("trivial handler", before.cpu, before.tally.answered)
    return rate


def workload(label: str, options: Options, measured: Measured, trivial_rate: float) -> None:
    tally, rate = measured.tally, measured.rate
    p99 = measured.latency_ms(0.99)
    ratio = rate / max(trivial_rate, 1e-9)
    print(
        f"inbound {label}: {tally.answered} answered in {measured.seconds:.1f} s "
        f"({options.concurrency} in flight, closed loop, {options.channel.value})"
    )
    print(f"inbound {label}: {rate:.0f} msg/s")
    print(f"inbound {label} p50: {measured.latency_ms(0.50):.1f} ms")
    print(
        f"inbound {label} p99: {p99:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms: "
        f"{'met' if p99 <= TARGET_P99_MS else 'missed'})"
    )
    print(
        f"inbound {label} ratio to the trivial handler: {ratio:.2f} "
        f"(target ≥ {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'missed'})"
    )
    missing = tally.unanswered + max(0, tally.expected_rest - measured.rest_sent)
    print(
        f"inbound {label} errors and missing replies: {tally.errors} non-200, {missing} missing "
        f"({tally.twiml_messages} replies as TwiML, {measured.rest_sent} through REST)"
    )
    if tally.samples:
        print(f"inbound {label} error samples: " + " | ".join(tally.samples))
    _cpu(label, measured.cpu, tally.answered)
    if measured.profile is not None:
        server_ms = measured.cpu["server"] * 1000 / max(tally.answered, 1)
        report_profile(f"inbound {label}", measured.profile, server_ms)


def _cpu(label: str, cpu: dict[str, float], answered: int) -> None:
    if not cpu:
        return
    per_msg = 1000.0 / max(answered, 1)
    parts = (
        ("server", "server"),
        ("postgres", "PostgreSQL"),
        ("redis", "Redis"),
        ("generator", "load generator"),
        ("fake", "fake Twilio"),
        ("machine", "whole machine"),
    )
    shares = ", ".join(f"{name} {cpu[key] * per_msg:.2f}" for key, name in parts)
    print(f"inbound {label} CPU ms/msg: {shares}")
    print(f"inbound {label} machine busy: {100 * cpu['machine_share']:.0f} %")
