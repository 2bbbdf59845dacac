"""A lean HTTP/1.1 load generator for the inbound benchmark.

It shares the machine's two cores with the server it measures, so it does as little as
possible per request: every request is encoded (and signed) before the clock starts,
written as bytes over kept-alive connections, and its answer read by Content-Length.
A general HTTP client (aiohttp's) costs about 0.6 ms of CPU per request here — a fifth
of what the bot itself spends on a message.

Two ways to load the server:

- :func:`closed_loop` — ``connections`` requests always in flight: the most the server
  answers per second (latency is then mostly queueing: in flight ÷ throughput).
- :func:`open_loop` — requests *offered* at a fixed rate, whatever the server does. Each
  latency counts from the moment its request was due, so a stalled server shows up in
  the figures instead of slowing the generator down (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from benchmarks.meter import percentile

REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Request:
    host: str
    port: int
    raw: bytes
    """The whole request: request line, headers and body."""


def encode_post(url: str, body: bytes, headers: dict[str, str]) -> Request:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return Request(parts.hostname, parts.port, head + body)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class Connection:
    """One kept-alive connection to one server; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: Request) -> Answer:
        self.writer.write(request.raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        if length is None:
            raise ValueError("an answer without Content-Length")
        return Answer(status, await self.reader.readexactly(length))

    def close(self) -> None:
        self.writer.close()


@dataclass
class Phase:
    """What happened to one batch of requests."""

    latencies: list[float] = field(default_factory=list)
    answers: list[tuple[int, Answer]] = field(default_factory=list)
    """(index of the request, its answer) for every answered request."""
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    def figures(self, unit: str, floor: float | None, *, seconds: float | None = None) -> str:
        """ "N <unit>/s, p50 … ms, p99 … ms; ratio to the floor …" over ``seconds`` (the
        phase's own by default), as the benchmarks print it."""
        latencies = sorted(self.latencies)
        rate = len(latencies) / (seconds or self.seconds)
        ratio = f"; ratio to the floor {rate / floor:.3f}" if floor else ""
        return (
            f"{rate:.0f} {unit}/s, p50 {percentile(latencies, 0.5) * 1000:.1f} ms,"
            f" p99 {percentile(latencies, 0.99) * 1000:.1f} ms{ratio}"
        )


class Pool:
    """Idle connections per server, opened on demand and kept."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._all: list[Connection] = []

    async def take(self, host: str, port: int) -> Connection:
        idle = self._idle.setdefault((host, port), [])
        if idle:
            return idle.pop()
        connection = await Connection.open(host, port)
        self._all.append(connection)
        return connection

    def give_back(self, request: Request, connection: Connection) -> None:
        self._idle[(request.host, request.port)].append(connection)

    def close(self) -> None:
        for connection in self._all:
            connection.close()


async def _one(pool: Pool, index: int, request: Request, since: float, phase: Phase) -> None:
    try:
        connection = await pool.take(request.host, request.port)
    except OSError as exc:
        phase.errors.append(repr(exc))
        return
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            answer = await connection.send(request)
    except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
        connection.close()  # never reuse a connection in an unknown state
        phase.errors.append(repr(exc))
        return
    phase.latencies.append(time.perf_counter() - since)
    phase.answers.append((index, answer))
    pool.give_back(request, connection)


async def closed_loop(
    pool: Pool, requests: Sequence[Request], in_flight: int, deadline: float
) -> Phase:
    """Send ``requests`` with ``in_flight`` always outstanding, until done or ``deadline``."""
    phase = Phase(started=time.perf_counter())
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(requests) and time.perf_counter() < deadline:
            index, position = position, position + 1
            await _one(pool, index, requests[index], time.perf_counter(), phase)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    phase.finished = time.perf_counter()
    return phase


async def closed_loop_for(requests: Sequence[Request], in_flight: int, seconds: float) -> Phase:
    """:func:`closed_loop` for at most ``seconds``, on connections of its own: one kept
    from a phase a minute ago may have been closed by the server meanwhile (aiohttp's
    keep-alive timeout)."""
    deadline = time.perf_counter() + seconds
    pool = Pool()
    try:
        return await closed_loop(pool, requests, in_flight, deadline)
    finally:
        pool.close()


async def open_loop_for(requests: Sequence[Request], rate: float) -> Phase:
    """:func:`open_loop` on connections of its own (as :func:`closed_loop_for`)."""
    pool = Pool()
    try:
        return await open_loop(pool, requests, rate)
    finally:
        pool.close()


async def open_loop(pool: Pool, requests: Sequence[Request], rate: float) -> Phase:
    """Offer ``requests`` at ``rate`` per second, each on its own connection while it is
    outstanding; latency counts from when the request was due."""
    phase = Phase(started=time.perf_counter())
    pending: set[asyncio.Task[None]] = set()
    for index, request in enumerate(requests):
        due = phase.started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_one(pool, index, request, due, phase))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    phase.finished = time.perf_counter()
    return phase
