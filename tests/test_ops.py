"""Health and metrics: cheap for unauthenticated callers, and on an internal listener
of their own when VCK_OPS_HOST is set."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

from bot.app import OPS_KEY, make_app
from bot.bootstrap import build_bot
from core.config import Settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_flood_of_health_checks_costs_one_ping_each(client, bot) -> None:
    checkouts = []
    event.listen(bot.db.sync_engine.pool, "checkout", lambda *args: checkouts.append(1))
    responses = await asyncio.gather(*(client.get("/healthz") for _ in range(40)))
    assert {r.status for r in responses} == {200}
    assert client.app[OPS_KEY].checks_run == 1
    assert len(checkouts) == 1  # one pooled connection for a moment, not forty


async def test_health_names_what_is_unreachable_with_503(bot_settings: Settings, redis) -> None:
    settings = bot_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"})
    bot = build_bot(settings)
    async with TestClient(TestServer(make_app(bot))) as client:
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {
            "database": "ok",
            "redis": "unreachable: ConnectionError",
        }


async def test_with_an_ops_host_health_and_metrics_leave_the_webhook_port(
    bot_settings: Settings, redis
) -> None:
    settings = bot_settings.model_copy(update={"ops_host": "127.0.0.1", "ops_port": 0})
    bot = build_bot(settings)
    async with TestClient(TestServer(make_app(bot))) as client:
        assert (await client.get("/healthz")).status == 404
        assert (await client.get("/metrics")).status == 404
        assert (await client.post("/webhooks/telegram", json={})).status == 403
        host, port = client.app[OPS_KEY].addresses[0][:2]
        assert host == "127.0.0.1"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{host}:{port}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {"database": "ok", "redis": "ok"}
            async with session.get(f"http://{host}:{port}/metrics") as response:
                assert 'vck_errors_total{kind="telegram_secret"} 1.0' in await response.text()
            async with session.post(f"http://{host}:{port}/webhooks/telegram") as response:
                assert response.status in (404, 405)
    # The listener closes with the app.
    async with aiohttp.ClientSession() as session:
        try:
            await session.get(f"http://{host}:{port}/healthz")
            raise AssertionError("the ops listener outlived the app")
        except aiohttp.ClientConnectionError:
            pass
