"""Engine, session factory and Redis client; built once by each entrypoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.config import Settings


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long a server process lets PostgreSQL work or wait for it, so a stuck lock
    or a hung server fails one request instead of holding its connection for good."""

    statement_seconds: float
    lock_seconds: float
    command_seconds: float
    """The client's deadline (asyncpg), for a server that stopped answering; kept
    above every statement timeout so the server normally cancels first."""

    @classmethod
    def from_settings(cls, settings: Settings, *, longest_statement: float = 0.0) -> Timeouts:
        """``longest_statement``: what a process raises its own statements to with
        ``SET LOCAL`` (the worker's fan-out), which the client deadline must allow."""
        statement = settings.db_statement_timeout_seconds
        return cls(
            statement_seconds=statement,
            lock_seconds=settings.db_lock_timeout_seconds,
            command_seconds=max(settings.db_command_timeout_seconds, longest_statement + 10),
        )

    def connect_args(self) -> dict[str, Any]:
        return {
            "command_timeout": self.command_seconds,
            "server_settings": {
                "statement_timeout": str(_ms(self.statement_seconds)),
                "lock_timeout": str(_ms(self.lock_seconds)),
            },
        }


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def make_engine(
    database_url: str, pool_size: int = 10, *, timeouts: Timeouts | None = None
) -> AsyncEngine:
    """A pool of ``pool_size`` kept connections and no more: opening a connection (TLS
    attempt, type introspection, a new PostgreSQL backend) costs more than waiting
    briefly for one. Connections beyond the pool would be closed as soon as they were
    returned, so under a burst every extra transaction would pay for a new backend —
    more CPU just when there is least of it.

    Without ``timeouts`` (migrations, seeding, tests' own engines) nothing is bounded."""
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args=timeouts.connect_args() if timeouts else {},
    )


def make_redis(settings: Settings) -> Redis:
    """A Redis client that gives up on a hung server instead of hanging every request
    (nothing here blocks on Redis for long: no BLPOP, no pub/sub)."""
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits on success and rolls back on error."""
    async with factory() as session, session.begin():
        yield session


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The pool's asyncpg connection itself, for plain SQL on a hot path: no ORM work
    and no BEGIN/ROLLBACK of its own (start one with its ``transaction()``)."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        yield raw.driver_connection


async def driver_of(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, in its transaction: plain SQL beside
    the ORM's (flush the session first if the SQL must see its changes)."""
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


def sync_url(database_url: str) -> str:
    """The asyncpg URL as a URL for tools that speak libpq (psql, COPY via asyncpg raw)."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://")
