"""``vck worker``: the notifier (arq) — announcement fan-out and the priority lane."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    worker = sub.add_parser("worker", help="run the notifier worker (arq)")
    worker.add_argument(
        "--lane",
        choices=("all", "bulk", "priority"),
        default="all",
        help="which queues this process serves (default: both)",
    )
    worker.add_argument(
        "--burst", action="store_true", help="stop when the queues are empty (tests, cron)"
    )
    worker.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from core import logs
    from core.config import load_settings
    from notifier.worker import LANES, run

    settings = load_settings()
    logs.configure(settings.log_level, "%(asctime)s %(levelname)s %(name)s %(message)s")
    lanes = LANES if args.lane == "all" else (args.lane,)
    run(lanes, burst=args.burst)
    return 0
