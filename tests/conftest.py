"""Fixtures: the real PostgreSQL (PostGIS, ltree) and Redis, each test isolated.

A template database is migrated and loaded with the demo data once per run; every test
gets a fresh copy of it (CREATE DATABASE ... TEMPLATE, ~0.1 s) and an empty Redis
database, so no test sees another's writes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings, load_settings
from core.db import make_engine, make_session_factory
from core.migrate import upgrade

# Separate names let several test runs share one server (xdist workers, or developers).
pytest_plugins = ["tests.bot_fixtures", "tests.donation_fixtures"]

_suffix = os.environ.get("VCK_TEST_DB_SUFFIX") or os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_configure(config: pytest.Config) -> None:
    """Every process started without VCK_ENVIRONMENT is in production and refuses the
    development secrets the tests use; the suite is the test environment (tests of the
    guard pass ``environment`` explicitly or start the CLI with an environment of their
    own). The demo people are on the fictional +1 202 555 01xx range, so codes may go
    there as well as to India."""
    os.environ["VCK_ENVIRONMENT"] = "test"
    os.environ["VCK_OTP_ALLOWED_COUNTRY_CODES"] = "+91,+1"


def db_name(stem: str) -> str:
    """A database name of this run's own."""
    return f"{stem}_{_suffix}"


TEMPLATE_DB = db_name("vck_test_template")
CASE_DB = db_name("vck_test_case")
TEST_REDIS_DB = int(os.environ.get("VCK_TEST_REDIS_DB", "1"))


def database_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def recreate_database(base_url: str, name: str, template: str | None = None) -> str:
    admin = await asyncpg.connect(_libpq(database_url(base_url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    return database_url(base_url, name)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return load_settings(environment="test")


@pytest.fixture(scope="session")
async def template_db(base_settings: Settings) -> str:
    from core.seed.demo import load_demo

    url = await recreate_database(base_settings.database_url, TEMPLATE_DB)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=1)
    async with make_session_factory(engine).begin() as session:
        await load_demo(session)
    await engine.dispose()
    return url


@pytest.fixture
async def db_url(base_settings: Settings, template_db: str) -> str:
    return await recreate_database(base_settings.database_url, CASE_DB, template=TEMPLATE_DB)


@pytest.fixture
def redis_url(base_settings: Settings) -> str:
    return base_settings.redis_url.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def settings(base_settings: Settings, db_url: str, redis_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": db_url, "redis_url": redis_url})


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session
