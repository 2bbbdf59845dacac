"""``vck db upgrade|downgrade|current``: Alembic against VCK_DATABASE_URL; ``vck db
reach [--rebuild]``: how far ``member_reach`` (the fan-out's derived table) is from
what it should be, and rebuilding it."""

from __future__ import annotations

import argparse
from typing import Any

from core import migrate
from core.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database migrations")
    actions = db.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help="migrate up (default: to the newest revision)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_upgrade)
    down = actions.add_parser("downgrade", help="migrate down to REVISION (e.g. -1, base)")
    down.add_argument("revision")
    down.set_defaults(handler=_downgrade)
    actions.add_parser("current", help="show the database's revision").set_defaults(
        handler=_current
    )
    reach = actions.add_parser(
        "reach", help="check member_reach against its source (exit 1 when it differs)"
    )
    reach.add_argument("--rebuild", action="store_true", help="rebuild it whole")
    reach.set_defaults(handler=_reach)


def _upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade(load_settings().database_url, args.revision)
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    migrate.downgrade(load_settings().database_url, args.revision)
    return 0


def _current(args: argparse.Namespace) -> int:
    migrate.current(load_settings().database_url)
    return 0


def _reach(args: argparse.Namespace) -> int:
    from cli.common import in_session
    from core import reach
    from core.db import driver_of

    async def work(session: Any, settings: Any) -> int:
        pg = await driver_of(session)
        if args.rebuild:
            print(f"member_reach rebuilt: {await reach.rebuild(pg):,} rows")
        return await reach.drift(pg)

    differing = in_session(work)
    print(f"member_reach: {differing:,} rows differ from member_reach_source")
    return 1 if differing else 0
