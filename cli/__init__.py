"""``vck``: one command for every process and chore.

Each subcommand group lives in its own module and registers itself with
``register(subparsers)``; a handler takes the parsed args and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

GROUPS = (
    "cli.db",
    "cli.seed",
    "cli.serve",
    "cli.chat",
    "cli.worker",
    "cli.announce",
    "cli.privacy",
    "cli.dlt",
    "cli.events",
    "cli.grievances",
    "cli.donations",
    "cli.elections",
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI; with ``command`` naming a group's own module (``elections`` is
    cli.elections), only that group, so a command does not pay for importing every
    other group's libraries (``vck elections verify`` is run by anyone, on a laptop)."""
    parser = argparse.ArgumentParser(prog="vck", description="VCK Connect")
    sub = parser.add_subparsers(dest="command", required=True)
    groups = [f"cli.{command}"] if f"cli.{command}" in GROUPS else GROUPS
    for name in groups:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from core.config import ConfigError

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:  # a clear refusal, not a traceback
        print(f"vck {args.command}: refusing to start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
