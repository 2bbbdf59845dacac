"""Grievance sweep: how long one sweep takes over a large set of open tickets, against
a floor measured in the same run.

A throwaway database (``VCK_BENCH_GRIEVANCES_DB``, default ``vck_bench_grievances``) gets
the schema and the demo tree (38 districts, 234 constituencies; handlers at the state,
two districts and one constituency), then ``VCK_BENCH_GRIEVANCES_TICKETS`` open tickets
(default 100,000) spread over the 234 constituencies, of which
``VCK_BENCH_GRIEVANCES_BREACHED`` (default 0.02: 2,000 of 100,000 breached in one
minute is already a bad day; a sweep runs every minute) are past their acknowledge-by.

- figure: one sweep (core/services/grievance_clock.py) that escalates every breached
  ticket (the nearest unit above with a handler, the least-loaded handler, new clocks,
  an audit row each) and writes its notices, committed;
- floor: a bare ``UPDATE`` of the same rows (found by the same predicate), in the same
  run, rolled back — what touching those rows costs at all on this machine today.

Prints the figure, the floor and their ratio; the issue's target is a sweep of 100,000
open tickets in at most 1 s.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime

from benchmarks.common import database_url, migrated_database
from core.config import load_settings
from core.db import make_engine, make_session_factory
from core.services import grievance_clock

_TICKETS = """
INSERT INTO grievances (ticket_number, member_id, unit_id, handling_unit_id, category,
    subject, description, priority, status, ack_due_at, resolve_due_at, clock_started_at,
    created_at, updated_at)
SELECT lpad(CAST(n AS text), 10, '0'), :member, c.id, c.id, 'civic', 'bench', 'bench',
    'medium', 'submitted',
    CASE WHEN n % :every = 0 THEN :now - interval '1 hour' ELSE :now + interval '3 days' END,
    :now + interval '14 days', :now - interval '4 days', :now - interval '4 days',
    :now - interval '4 days'
FROM generate_series(1, :count) AS n
JOIN (SELECT id, row_number() OVER (ORDER BY code) - 1 AS k FROM organization_units
      WHERE type = 'constituency') c ON c.k = n % 234
""".replace(":now", "CAST(:now AS timestamptz)")
_FLOOR = """
UPDATE grievances t SET updated_at = :now
WHERE t.waiting_since IS NULL AND t.breached_at IS NULL
  AND ((t.status = 'submitted' AND t.ack_due_at <= :now)
       OR (t.status IN ('submitted', 'acknowledged', 'in_progress') AND t.resolve_due_at <= :now))
"""


async def _run(url: str, count: int, breached: float) -> None:
    from sqlalchemy import text

    from core.seed.demo import load_demo

    settings = load_settings().model_copy(update={"database_url": url})
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with sessions.begin() as session:
            await load_demo(session)
            member = await session.scalar(text("SELECT id FROM members ORDER BY phone LIMIT 1"))
            every = max(1, round(1 / breached)) if breached > 0 else count + 1
            await session.execute(
                text(_TICKETS), {"member": member, "now": now, "every": every, "count": count}
            )
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE grievances"))
        async with sessions() as session:
            started = time.perf_counter()
            touched = (await session.execute(text(_FLOOR), {"now": now})).rowcount
            floor = time.perf_counter() - started
            await session.rollback()
        async with sessions() as session:
            started = time.perf_counter()
            swept = await grievance_clock.sweep(session, settings, now=now, limit=count)
            await session.commit()
            figure = time.perf_counter() - started
    finally:
        await engine.dispose()
    print(f"grievances: {count} open tickets, {touched} breached")
    print(f"grievances: sweep {figure:.3f} s ({swept.escalated} escalated,"
          f" {swept.breached_at_top} at the top, {swept.notices} notices)")  # fmt: skip
    print(f"grievances: floor (bare UPDATE of the same rows) {floor:.3f} s")
    print(
        f"grievances: ratio {figure / floor if floor else float('inf'):.1f}x (target: sweep ≤ 1 s)"
    )


def main() -> None:
    count = int(os.environ.get("VCK_BENCH_GRIEVANCES_TICKETS", "100000"))
    breached = float(os.environ.get("VCK_BENCH_GRIEVANCES_BREACHED", "0.02"))
    url = database_url(os.environ.get("VCK_BENCH_GRIEVANCES_DB", "vck_bench_grievances"))
    asyncio.run(migrated_database(url))
    asyncio.run(_run(url, count, breached))


if __name__ == "__main__":
    main()
