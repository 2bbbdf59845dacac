"""``vck privacy purge``: remove what is past its retention (core/services/retention.py),
once; the worker does it daily. ``vck privacy access-log --member NUMBER``: which
officials read the member's details, what and when (core/services/access_log.py)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import in_session


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    privacy = sub.add_parser("privacy", help="personal data: retention, access log")
    actions = privacy.add_subparsers(dest="action", required=True)
    purge = actions.add_parser("purge", help="delete what is past its retention, now")
    purge.set_defaults(handler=_purge)
    reads = actions.add_parser("access-log", help="who read a member's personal details")
    reads.add_argument("--member", required=True, help="membership number, e.g. VCK-VPM-0000005")
    reads.set_defaults(handler=_access_log)


def _access_log(args: argparse.Namespace) -> int:
    import sys

    from core.i18n import INDIA
    from core.services import access_log

    async def work(session: Any, settings: Any) -> list[access_log.Entry] | None:
        return await access_log.for_member(session, args.member.strip().upper())

    entries = in_session(work, write=False)
    if entries is None:
        print(f"no member {args.member}", file=sys.stderr)
        return 1
    if not entries:
        print(f"no official has read {args.member}'s details")
    for entry in entries:
        when = entry.read_at.astimezone(INDIA).strftime("%Y-%m-%d %H:%M:%S IST")
        print(f"{when}  {entry.what:<18}  read by {entry.official_number or '(erased)'}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from core.services import retention

    async def work(session: Any, settings: Any) -> retention.Purged:
        return await retention.purge(session, settings, now=datetime.now(UTC))

    purged = in_session(work)
    print(
        f"purged: {purged.otp_codes} OTP codes, {purged.message_bodies} message texts,"
        f" {purged.status_events} status callbacks, {purged.conversations} idle conversations"
    )
    return 0
