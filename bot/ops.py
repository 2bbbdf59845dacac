"""Health and metrics: for operators, load balancers and Prometheus, never providers.

Both are unauthenticated, so they are cheap: ``/healthz`` asks PostgreSQL for
``SELECT 1`` on a pooled connection (no session, no transaction) and Redis for ``PING``,
each bounded by a short timeout, and at most once a second however many callers ask —
a flood of health checks costs one pool slot for a moment, not the webhooks' pool.

With ``VCK_OPS_HOST`` set they are served on a listener of their own
(``VCK_OPS_HOST:VCK_OPS_PORT``, an internal address) and not on the webhook port, so
strangers cannot read traffic volumes or error counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.bootstrap import Bot
from core.db import driver_connection

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 1.0
"""Longer than a healthy ping takes by orders of magnitude; short enough for probes."""
CHECK_EVERY_SECONDS = 1.0
"""Callers within this long of the last check get its answer."""


class Ops:
    """The health and metrics handlers of one bot process."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.addresses: list[Any] = []
        """Where the ops listener is bound, once started (tests bind port 0)."""
        self.checks_run = 0
        self._lock = asyncio.Lock()
        self._checked_at = -math.inf
        self._checks: dict[str, str] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.healthz), web.get("/metrics", self.metrics)]

    async def healthz(self, request: web.Request) -> web.Response:
        checks = await self.check()
        healthy = all(result == "ok" for result in checks.values())
        return web.json_response(checks, status=200 if healthy else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        metrics = self.bot.metrics
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})

    async def check(self) -> dict[str, str]:
        """``{"database": "ok", "redis": "ok"}`` or the failure's class name, reused for
        :data:`CHECK_EVERY_SECONDS`."""
        async with self._lock:
            if time.monotonic() - self._checked_at >= CHECK_EVERY_SECONDS:
                database, redis = await asyncio.gather(
                    _probe(self._ping_database), _probe(self.bot.redis.ping)
                )
                self._checks = {"database": database, "redis": redis}
                self._checked_at = time.monotonic()
                self.checks_run += 1
            return dict(self._checks)

    async def _ping_database(self) -> None:
        async with driver_connection(self.bot.db) as pg:  # no BEGIN/ROLLBACK around it
            await pg.fetchval("SELECT 1")

    def mount(self, app: web.Application, *, reuse_port: bool = False) -> None:
        """Serve health and metrics on ``app`` itself, or, with ``VCK_OPS_HOST``, on a
        listener of their own that starts after ``app``'s other start-up steps (so a
        load balancer sees the bot healthy once it can answer) and stops first."""
        settings = self.bot.settings
        if not settings.ops_host:
            app.add_routes(self.routes())
            return
        host, port = settings.ops_host, settings.ops_port
        ops_app = web.Application()
        ops_app.add_routes(self.routes())
        runner = web.AppRunner(ops_app, access_log=None)

        async def start(app: web.Application) -> None:
            await runner.setup()
            await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
            self.addresses = list(runner.addresses)
            log.info("health and metrics on %s", self.addresses)

        async def stop(app: web.Application) -> None:
            if self.addresses:  # it started (a failed start-up still cleans up)
                await runner.cleanup()

        app.on_startup.append(start)
        app.on_cleanup.insert(0, stop)  # before the bot's connections close


async def _probe(ping: Callable[[], Awaitable[object]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await ping()
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"
