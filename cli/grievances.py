"""``vck grievances sweep``: escalate breached tickets once (the worker does it every
minute). ``vck grievances report --unit CODE``: open tickets by unit, category and age,
and the share resolved within their clock (core/services/grievance_reports.py)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import in_session


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("grievances", help="grievance tickets: the sweep, reports")
    actions = group.add_subparsers(dest="action", required=True)
    sweep = actions.add_parser("sweep", help="escalate the tickets past a deadline, now")
    sweep.set_defaults(handler=_sweep)
    report = actions.add_parser("report", help="open tickets and resolution within clock")
    report.add_argument("--unit", required=True, help="unit code, e.g. TN.CUD")
    report.set_defaults(handler=_report)


def _sweep(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from core.services import grievance_clock

    async def work(session: Any, settings: Any) -> grievance_clock.Swept:
        return await grievance_clock.sweep(session, settings, now=datetime.now(UTC))

    swept = in_session(work)
    print(
        f"escalated {swept.escalated}, past deadline at the top {swept.breached_at_top},"
        f" notices queued {swept.notices}"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    import sys
    from datetime import UTC, datetime

    from core.services import grievance_reports

    async def work(session: Any, settings: Any) -> grievance_reports.Report | None:
        return await grievance_reports.report(
            session, args.unit.strip().upper(), now=datetime.now(UTC)
        )

    found = in_session(work, write=False)
    if found is None:
        print(f"no unit {args.unit}", file=sys.stderr)
        return 1
    print(f"{found.unit_code}: {found.open} open, {found.overdue} past a deadline")
    for code, name, _ta, count in found.by_unit:
        print(f"  {code:<24} {name:<28} {count}")
    print("by category: " + (", ".join(f"{c} {n}" for c, n in found.by_category) or "-"))
    print("by age: " + ", ".join(f"{label} {n}" for label, n in found.by_age))
    share = found.in_time_percent
    print(
        f"resolved: {found.resolved}, within their clock: {found.resolved_in_time}"
        + (f" ({share}%)" if share is not None else "")
    )
    return 0
