"""core.db: the servers' connections give up instead of hanging — statements, lock
waits and a Redis that stopped answering — and the fan-out raises its own bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.db import Timeouts, make_engine, make_redis, make_session_factory
from core.fanout import FanoutPolicy, allow_long_statements

SHORT = Timeouts(statement_seconds=0.2, lock_seconds=0.1, command_seconds=5)


@pytest.fixture
async def bounded(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url, pool_size=2, timeouts=SHORT)
    yield engine
    await engine.dispose()


def test_timeouts_come_from_the_settings(settings: Settings) -> None:
    bot = Timeouts.from_settings(settings)
    assert (bot.statement_seconds, bot.lock_seconds) == (5.0, 3.0)
    assert bot.command_seconds == settings.db_command_timeout_seconds
    worker = Timeouts.from_settings(settings, longest_statement=600)
    assert worker.command_seconds == 610  # the client lets the fan-out's bound run out


async def test_a_long_statement_is_cancelled_by_the_server(bounded: AsyncEngine) -> None:
    async with bounded.connect() as connection:
        assert await connection.scalar(text("SHOW statement_timeout")) == "200ms"
        assert await connection.scalar(text("SHOW lock_timeout")) == "100ms"
        started = time.monotonic()
        with pytest.raises(DBAPIError, match="statement timeout"):
            await connection.execute(text("SELECT pg_sleep(3)"))
        assert time.monotonic() - started < 2


async def test_a_lock_wait_gives_up(bounded: AsyncEngine, engine: AsyncEngine) -> None:
    lock = text("SELECT pg_advisory_xact_lock(hashtext('vck:test-lock'))")
    async with engine.connect() as holder:
        await holder.execute(lock)
        async with bounded.connect() as waiter:
            with pytest.raises(DBAPIError, match="lock timeout"):
                await waiter.execute(lock)


async def test_the_fan_out_raises_its_bounds_for_its_own_transaction_only(
    bounded: AsyncEngine, engine: AsyncEngine
) -> None:
    """Publishing waits for the WhatsApp tier lock while another publish writes (up to
    ~20 s state-wide): the process's short lock timeout must not fail it."""
    factory = make_session_factory(bounded)
    lock = text("SELECT pg_advisory_xact_lock(hashtext('vck:whatsapp-tier'))")
    async with engine.connect() as other_publish:
        await other_publish.execute(lock)  # held until its transaction ends
        async with factory() as session, session.begin():
            await allow_long_statements(session, FanoutPolicy(statement_timeout_seconds=30))
            waiting = asyncio.create_task(session.execute(lock))
            await asyncio.sleep(0.6)  # six times the process's lock timeout
            assert not waiting.done()
            await other_publish.commit()
            await waiting
            await session.execute(text("SELECT pg_sleep(0.3)"))  # above 200 ms: allowed
    async with factory() as session:  # the next transaction has the short bounds again
        assert await session.scalar(text("SHOW statement_timeout")) == "200ms"
        assert await session.scalar(text("SHOW lock_timeout")) == "100ms"


async def test_redis_that_stops_answering_fails_the_command(settings: Settings) -> None:
    """A server that accepts the connection and never answers (a hung Redis)."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = make_redis(
        settings.model_copy(
            update={"redis_url": f"redis://127.0.0.1:{port}/0", "redis_socket_timeout_seconds": 0.3}
        )
    )
    try:
        started = time.monotonic()
        with pytest.raises(Exception, match="Timeout") as failed:
            await redis.ping()
        assert "Timeout" in type(failed.value).__name__
        assert time.monotonic() - started < 5
        assert accepted
    finally:
        await redis.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
