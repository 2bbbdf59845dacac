"""``vck privacy purge``: remove what is past its retention (core/services/retention.py),
once; the worker does it daily."""

from __future__ import annotations

import argparse
import asyncio


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    privacy = sub.add_parser("privacy", help="personal data: retention")
    actions = privacy.add_subparsers(dest="action", required=True)
    purge = actions.add_parser("purge", help="delete what is past its retention, now")
    purge.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from core.config import load_settings
    from core.db import make_engine, make_session_factory
    from core.services import retention

    async def run() -> retention.Purged:
        settings = load_settings()
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with make_session_factory(engine).begin() as session:
                return await retention.purge(session, settings, now=datetime.now(UTC))
        finally:
            await engine.dispose()

    purged = asyncio.run(run())
    print(
        f"purged: {purged.otp_codes} OTP codes, {purged.message_bodies} message texts,"
        f" {purged.status_events} status callbacks"
    )
    return 0
