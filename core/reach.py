"""``member_reach`` (migration 0017): the fan-out's one row per active member, derived
by triggers from members, their units and their addresses. Here: how far it is from what
it should be, and rebuilding it whole (``vck db reach``; the synthetic loader after a
bulk COPY with the triggers off).

The triggers keep it right in the same transaction as every change, so drift means
someone turned them off, wrote the table by hand or restored part of a backup."""

from __future__ import annotations

from typing import Any

COLUMNS = "member_id, language, wa, tg, sms, phone, paths"

DRIFT_SQL = f"""
SELECT count(*) FROM (
  (SELECT {COLUMNS} FROM member_reach EXCEPT SELECT {COLUMNS} FROM member_reach_source)
  UNION ALL
  (SELECT {COLUMNS} FROM member_reach_source EXCEPT SELECT {COLUMNS} FROM member_reach)
) differing
"""
"""Rows that are in the table and not in its source, plus the other way round (a
member whose row is stale counts twice: the old row and the right one)."""


async def drift(pg: Any) -> int:
    """How many rows differ from ``member_reach_source`` (``pg``: an asyncpg connection)."""
    return int(await pg.fetchval(DRIFT_SQL))


async def rebuild(pg: Any, *, work_mem: str = "256MB") -> int:
    """Every member's row again from their source, in one transaction; returns the rows.
    Fan-outs wait for it (the table is truncated): seconds for a million members."""
    async with pg.transaction():
        await pg.execute(f"SET LOCAL work_mem = '{work_mem}'")
        await pg.execute("TRUNCATE member_reach")
        status = await pg.execute(
            f"INSERT INTO member_reach ({COLUMNS}) SELECT {COLUMNS} FROM member_reach_source"
        )
    return int(status.split()[-1])
