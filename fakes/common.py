"""What every fake provider shares: an aiohttp server on loopback that records what it
was sent and fails on demand.

In-process::

    fake = FakeTwilio()
    base_url = await fake.start()          # port 0 = any free port
    fake.fail(times=2, status=429, retry_after=3)
    ...
    assert fake.sent[0]["To"] == "whatsapp:+919876543210"
    await fake.stop()

Out of process (``python -m fakes.twilio --port 58081``), the same controls are JSON
endpoints:

- ``GET  /_fake/sent``      → ``{"sent": [...], "requests": N}``
- ``GET  /_fake/count``     → ``{"sent": N, "requests": N}`` (cheap to poll)
- ``POST /_fake/reset``     forget everything recorded and every failure rule
- ``POST /_fake/fail``      ``{"times": N | "seconds": T, "status": 500|429|…,
  "code": provider code, "retry_after": S, "delay": S}``
- ``POST /_fake/fail_for``  ``{"address": "+91…" | chat id, "code": provider code}``
  refuses sends to that address; with ``"stage": "callback"`` accepts them and reports
  the failure in the status callback instead; ``"code": null`` clears the rule
- ``POST /_fake/latency``   ``{"ms": 10}`` added to every provider response
- ``POST /_fake/idempotent`` ``{"on": true}`` answers a repeated ``Idempotency-Key``
  from memory

Like the real providers (Twilio, Telegram, Indian DLT SMS), a fake does **not** honour
``Idempotency-Key`` by default: a repeated request is a second message. With
``idempotent=True`` (``--idempotent``) it answers a key it has seen with its first
answer and sends nothing (``replayed`` counts those): what a provider that dedupes would
do.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from core import aio

log = logging.getLogger(__name__)


@dataclass
class Failure:
    """Fail the next ``remaining`` requests, or every request until ``until`` (loop time)."""

    status: int = 500
    code: int | str | None = None
    retry_after: float | None = None
    delay: float | None = None
    remaining: int | None = None
    until: float | None = None

    def take(self, now: float) -> bool:
        if self.until is not None:
            return now < self.until
        if self.remaining is not None and self.remaining > 0:
            self.remaining -= 1
            return True
        return False


class FakeProvider:
    """Base class: subclasses add their provider routes and error format."""

    name = "fake"
    default_port = 0

    def __init__(
        self, *, latency: float = 0.0, host: str = "127.0.0.1", idempotent: bool = False
    ) -> None:
        self.host = host
        self.latency = latency
        self.idempotent = idempotent
        """Answer a repeated ``Idempotency-Key`` from memory (real providers do not)."""
        self.replayed = 0
        """Requests answered from memory because their key was seen (``idempotent``)."""
        self._answers: dict[str, tuple[int, bytes, str]] = {}
        self.sent: list[dict[str, Any]] = []
        self.requests = 0
        self.failure: Failure | None = None
        self.fail_for: dict[str, Any] = {}
        """address → provider error code: refuse sends to that address synchronously."""
        self.undeliverable: dict[str, Any] = {}
        """address → provider error code: accept, then report failure in a callback."""
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- to override -------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def error_response(self, failure: Failure) -> web.Response:
        return web.json_response({"error": "fake failure"}, status=failure.status)

    def _reset_extra(self) -> None:
        """Subclasses clear what else they record."""

    # --- controls ----------------------------------------------------------------------

    def fail(
        self,
        *,
        times: int | None = None,
        seconds: float | None = None,
        status: int = 500,
        code: int | str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
    ) -> None:
        """Fail the next ``times`` provider requests (default 1), or all of them for
        ``seconds``; ``delay`` sleeps that long before answering (a client timeout)."""
        until = None
        if seconds is not None:
            until = asyncio.get_running_loop().time() + seconds
        elif times is None:
            times = 1
        self.failure = Failure(status, code, retry_after, delay, times, until)

    def recover(self) -> None:
        self.failure = None

    def reset(self) -> None:
        self.sent.clear()
        self.requests = 0
        self.failure = None
        self.fail_for.clear()
        self.undeliverable.clear()
        self.replayed = 0
        self._answers.clear()
        self._reset_extra()

    def _take_failure(self) -> Failure | None:
        failure = self.failure
        if failure is None:
            return None
        if failure.take(asyncio.get_running_loop().time()):
            return failure
        self.failure = None
        return None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path.startswith("/_fake/"):
            response: web.StreamResponse = await handler(request)
            return response
        self.requests += 1
        try:  # the whole request first, as a provider does; then its answer takes time
            await request.read()
        except ConnectionResetError:  # the client went away mid-request: nothing was sent
            return web.Response(status=499)
        if self.latency:
            await asyncio.sleep(self.latency)
        failure = self._take_failure()
        if failure is not None:
            if failure.delay:
                await asyncio.sleep(failure.delay)
            return self.error_response(failure)
        key = request.headers.get("Idempotency-Key") if self.idempotent else None
        if key and key in self._answers:
            self.replayed += 1
            status, body, content_type = self._answers[key]
            return web.Response(status=status, body=body, content_type=content_type)
        response = await handler(request)
        if key and isinstance(response, web.Response) and 200 <= response.status < 300:
            self._answers[key] = (
                response.status,
                bytes(response.body or b""),
                response.content_type,
            )
        return response

    async def _sent(self, request: web.Request) -> web.Response:
        return web.json_response({"sent": self.sent, "requests": self.requests})

    async def _count(self, request: web.Request) -> web.Response:
        return web.json_response({"sent": len(self.sent), "requests": self.requests})

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _fail(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.fail(
            times=body.get("times"),
            seconds=body.get("seconds"),
            status=int(body.get("status", 500)),
            code=body.get("code"),
            retry_after=body.get("retry_after"),
            delay=body.get("delay"),
        )
        return web.json_response({"ok": True})

    async def _fail_for(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        address = str(body.get("address", ""))
        rules = self.undeliverable if body.get("stage") == "callback" else self.fail_for
        if body.get("code") is None:
            rules.pop(address, None)
        else:
            rules[address] = body["code"]
        return web.json_response({"ok": True})

    async def _idempotent(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.idempotent = bool(body.get("on", True))
        return web.json_response({"ok": True})

    async def _latency(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.latency = float(body.get("ms", 0)) / 1000.0
        return web.json_response({"ok": True})

    # --- lifecycle ---------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/_fake/sent", self._sent)
        app.router.add_get("/_fake/count", self._count)
        app.router.add_post("/_fake/reset", self._reset)
        app.router.add_post("/_fake/fail", self._fail)
        app.router.add_post("/_fake/fail_for", self._fail_for)
        app.router.add_post("/_fake/latency", self._latency)
        app.router.add_post("/_fake/idempotent", self._idempotent)
        self.add_routes(app.router)
        return app

    async def start(self, port: int = 0) -> str:
        """Serve on ``host:port`` (0 = a free port) and return the base URL."""
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        host, bound = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeProvider:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- calling back (status callbacks, webhook deliveries) ---------------------------

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(
        self,
        url: str,
        *,
        data: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """POST to a webhook of ours; returns the HTTP status (0 when unreachable)."""
        if self._client is None or self._client.closed:
            self._client = ClientSession(timeout=ClientTimeout(total=10))
        try:
            async with self._client.post(url, data=data, json=json, headers=headers) as resp:
                await resp.read()
                return resp.status
        except Exception as exc:  # a fake keeps going when our server is down
            log.info("%s fake: callback to %s failed: %r", self.name, url, exc)
            return 0

    async def drain(self) -> None:
        """Wait until every scheduled callback has been posted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def basic_auth_ok(request: web.Request, user: str, password: str) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    expected = base64.b64encode(f"{user}:{password}".encode()).decode()
    return hmac.compare_digest(header[6:].strip(), expected)


def run_main(
    build: Callable[[argparse.Namespace], FakeProvider],
    *,
    name: str,
    default_port: int,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: list[str] | None = None,
) -> None:
    """``python -m fakes.<name> --port P [--host H] [--latency-ms MS]``: serve until
    interrupted."""
    parser = argparse.ArgumentParser(prog=f"python -m fakes.{name}", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--idempotent",
        action="store_true",
        help="answer a repeated Idempotency-Key from memory (real providers do not)",
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def serve() -> None:
        fake = build(args)
        fake.host, fake.latency = args.host, args.latency_ms / 1000.0
        fake.idempotent = args.idempotent
        url = await fake.start(args.port)
        print(f"fake {name} listening on {url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await fake.stop()

    aio.run(serve())
