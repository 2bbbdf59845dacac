"""``vck seed demo|synthetic``: the Tamil Nadu demo data, and synthetic members at scale."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from core.config import Settings, load_settings
from core.db import make_engine, make_session_factory


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    seed = sub.add_parser("seed", help="load demo or synthetic data")
    actions = seed.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "demo", help="the Tamil Nadu tree, positions and demo people (idempotent)"
    ).set_defaults(handler=_demo)
    synthetic = actions.add_parser(
        "synthetic", help="~68,000 booths and N synthetic members (needs `vck seed demo`)"
    )
    synthetic.add_argument("--members", type=int, required=True, help="members in total")
    synthetic.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    synthetic.set_defaults(handler=_synthetic)


def _demo(args: argparse.Namespace) -> int:
    from core.seed.demo import load_demo

    settings = load_settings()
    if not _allowed("demo", settings):
        return 2

    async def run() -> None:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with make_session_factory(engine).begin() as session:
                summary = await load_demo(session)
        finally:
            await engine.dispose()
        for name, count in dataclasses.asdict(summary).items():
            print(f"{name.replace('_', ' ')}: {count}")

    asyncio.run(run())
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from core.seed.synthetic import load_synthetic

    settings = load_settings()
    if not _allowed("synthetic", settings):
        return 2
    summary = asyncio.run(load_synthetic(settings.database_url, args.members, seed=args.seed))
    print(
        f"booths: {summary.booths_total} ({summary.booths_created} new); "
        f"members: {summary.members_total} ({summary.members_created} new); "
        f"channel addresses: {summary.addresses_created} new"
    )
    print(f"elapsed: {summary.seconds:.1f} s")
    return 0


def _allowed(action: str, settings: Settings) -> bool:
    """Demo officials can announce to the whole state, and synthetic members have
    real-looking phones: neither belongs in a real deployment's database."""
    if settings.allows_demo_data:
        return True
    print(
        f"vck seed {action}: refusing in {settings.environment}; seed data is only for"
        " VCK_ENVIRONMENT=development, demo or test",
        file=sys.stderr,
    )
    return False
