"""The migrations build the whole schema on an empty database, match the models, and go
down and up again."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from core import migrate
from core.config import Settings
from tests.conftest import _libpq, db_name, recreate_database

EMPTY_DB = db_name("vck_test_migrations")


@pytest.fixture
async def empty_db(base_settings: Settings) -> str:
    return await recreate_database(base_settings.database_url, EMPTY_DB)


async def tables_and_types(url: str) -> tuple[set[str], set[str]]:
    conn = await asyncpg.connect(_libpq(url))
    try:
        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        }
        types = {
            r["typname"]
            for r in await conn.fetch(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                " WHERE n.nspname = 'public' AND t.typtype = 'e'"
            )
        }
    finally:
        await conn.close()
    return tables, types


async def test_upgrade_head_builds_the_schema_on_an_empty_database(empty_db: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_db)
    tables, types = await tables_and_types(empty_db)
    assert {"organization_units", "members", "member_units", "otp_verifications"} <= tables
    assert {"announcements", "election_votes", "channel_addresses"} <= tables
    assert {"unit_type", "member_status", "election_status", "grievance_priority"} <= types


async def test_models_and_migrations_do_not_drift(empty_db: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_db)
    await asyncio.to_thread(migrate.check, empty_db)  # raises when autogenerate finds changes


async def test_downgrade_to_base_then_upgrade_again(empty_db: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_db)
    await asyncio.to_thread(migrate.downgrade, empty_db, "base")
    tables, types = await tables_and_types(empty_db)
    assert tables <= {"alembic_version", "spatial_ref_sys"}
    assert not types
    await asyncio.to_thread(migrate.upgrade, empty_db)
    tables, _ = await tables_and_types(empty_db)
    assert "members" in tables
