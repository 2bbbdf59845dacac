"""Synthetic load: N members (and ~68,000 booths) into a fresh ``vck_bench`` database.

Environment:

- ``VCK_BENCH_MEMBERS``: members to load (default 1,000,000);
- ``VCK_BENCH_DB``: the database to (re)create (default ``vck_bench``);
- ``VCK_DATABASE_URL``: the server, as everywhere (its database name is ignored).

``vck_bench`` is dropped and recreated at the start and left loaded at the end: later
benchmarks (the announcement fan-out) run against it.

Run: ``uv run python -m benchmarks.synthetic``.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
from sqlalchemy.engine import make_url

from core.config import load_settings
from core.db import make_engine, make_session_factory, sync_url
from core.migrate import upgrade
from core.seed.demo import load_demo
from core.seed.synthetic import load_synthetic


def bench_database_url() -> str:
    """The URL of the benchmark database on the configured server."""
    name = os.environ.get("VCK_BENCH_DB", "vck_bench")
    base = make_url(load_settings().database_url)
    return base.set(database=name).render_as_string(hide_password=False)


async def _recreate(url: str) -> None:
    name = make_url(url).database
    admin = await asyncpg.connect(
        sync_url(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _run(members: int) -> None:
    url = bench_database_url()
    await _recreate(url)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=1)
    try:
        started = time.perf_counter()
        async with make_session_factory(engine).begin() as session:
            await load_demo(session)
        print(f"demo load: {time.perf_counter() - started:.1f} s")
    finally:
        await engine.dispose()
    summary = await load_synthetic(url, members)
    print(f"synthetic load, {summary.members_created} members: {summary.seconds:.1f} s")
    rows = summary.members_created * 2 + summary.addresses_created + summary.booths_created
    print(f"synthetic load rate: {rows / summary.seconds:,.0f} rows/s")


def main() -> None:
    asyncio.run(_run(int(os.environ.get("VCK_BENCH_MEMBERS", "1000000"))))


if __name__ == "__main__":
    main()
