"""Grievance reports for a unit and everything below it: open tickets by the unit below
(where they were raised), by category and by age, how many are past a deadline, and the
share of resolved tickets that were resolved within their clock. Counts only: no
ticket's text. Shown in chat to officials (bot/flows/grievance_official.py) and by
``vck grievances report --unit CODE``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

AGES = ((0, 1, "<1d"), (1, 3, "1-3d"), (3, 7, "3-7d"), (7, 21, "7-21d"), (21, 100_000, ">21d"))
"""Age buckets in days: (from, to, label)."""

_SCOPE = "t.unit_id IN (SELECT id FROM organization_units WHERE path <@ CAST(:path AS ltree))"
_OPEN = "t.status IN ('submitted', 'acknowledged', 'in_progress')"


@dataclass(frozen=True, slots=True)
class Report:
    unit_code: str
    open: int
    overdue: int
    by_unit: list[tuple[str, str, str | None, int]]
    """(code, name, Tamil name, open tickets) of the units just below, most first."""
    by_category: list[tuple[str, int]]
    by_age: list[tuple[str, int]]
    resolved: int
    resolved_in_time: int

    @property
    def in_time_percent(self) -> int | None:
        return round(100 * self.resolved_in_time / self.resolved) if self.resolved else None


async def report(session: AsyncSession, unit_code: str, *, now: datetime) -> Report | None:
    path = await session.scalar(
        text("SELECT path::text FROM organization_units WHERE code = :c"), {"c": unit_code}
    )
    if path is None:
        return None
    p = {"path": path, "now": now, "depth": len(path.split(".")) + 1}
    totals = (
        await session.execute(
            text(
                f"SELECT count(*) FILTER (WHERE {_OPEN}) AS open,"
                f" count(*) FILTER (WHERE {_OPEN} AND t.waiting_since IS NULL AND"
                "  CASE WHEN t.status = 'submitted' THEN t.ack_due_at ELSE t.resolve_due_at END"
                "  < :now) AS overdue,"
                " count(*) FILTER (WHERE t.resolved_at IS NOT NULL) AS resolved,"
                " count(*) FILTER (WHERE t.resolved_at IS NOT NULL"
                "  AND t.resolved_at <= t.resolve_due_at) AS in_time"
                f" FROM grievances t WHERE {_SCOPE}"
            ),
            p,
        )
    ).one()
    by_unit = await session.execute(
        text(
            "SELECT u.code, u.name, u.metadata->>'name_ta', x.n FROM ("
            "  SELECT subpath(tu.path, 0, :depth) AS below, count(*) AS n"
            "  FROM grievances t JOIN organization_units tu ON tu.id = t.unit_id"
            f"  WHERE {_OPEN} AND tu.path <@ CAST(:path AS ltree) AND nlevel(tu.path) >= :depth"
            "  GROUP BY 1) x JOIN organization_units u ON u.path = x.below"
            " ORDER BY x.n DESC, u.code LIMIT 10"
        ),
        p,
    )
    by_category = await session.execute(
        text(
            f"SELECT t.category, count(*) FROM grievances t WHERE {_OPEN} AND {_SCOPE}"
            " GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
        p,
    )
    ages = ", ".join(
        f"count(*) FILTER (WHERE t.created_at > CAST(:now AS timestamptz) - interval '{hi} days'"
        f" AND t.created_at <= CAST(:now AS timestamptz) - interval '{lo} days')"
        for lo, hi, _label in AGES
    )
    age_row = (
        await session.execute(
            text(f"SELECT {ages} FROM grievances t WHERE {_OPEN} AND {_SCOPE}"), p
        )
    ).one()
    return Report(
        unit_code=unit_code,
        open=totals.open,
        overdue=totals.overdue,
        by_unit=[(r[0], r[1], r[2], r[3]) for r in by_unit],
        by_category=[(r[0], r[1]) for r in by_category],
        by_age=[(label, n) for (_lo, _hi, label), n in zip(AGES, age_row, strict=True)],
        resolved=totals.resolved,
        resolved_in_time=totals.in_time,
    )
