"""``vck db upgrade|downgrade|current``: Alembic against VCK_DATABASE_URL."""

from __future__ import annotations

import argparse

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


def _upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade(load_settings().database_url, args.revision)
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    migrate.downgrade(load_settings().database_url, args.revision)
    return 0


def _current(args: argparse.Namespace) -> int:
    migrate.current(load_settings().database_url)
    return 0
