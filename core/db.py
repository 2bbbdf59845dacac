"""Engine and session factory; built once by each entrypoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(database_url: str, pool_size: int = 10) -> AsyncEngine:
    """A pool of ``pool_size`` kept connections and no more: opening a connection (TLS
    attempt, type introspection, a new PostgreSQL backend) costs more than waiting
    briefly for one. Connections beyond the pool would be closed as soon as they were
    returned, so under a burst every extra transaction would pay for a new backend —
    more CPU just when there is least of it."""
    return create_async_engine(database_url, pool_size=pool_size, max_overflow=0)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits on success and rolls back on error."""
    async with factory() as session, session.begin():
        yield session


def sync_url(database_url: str) -> str:
    """The asyncpg URL as a URL for tools that speak libpq (psql, COPY via asyncpg raw)."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://")
