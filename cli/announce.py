"""``vck announce`` and ``vck report``: broadcast an announcement to a unit and
everything below it, and see how its delivery went."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.numbers import format_currency

from cli.common import acting_official, in_session, moment, refused
from core.i18n import INDIA


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    announce = sub.add_parser("announce", help="announce to a unit and everything below it")
    announce.add_argument("--unit", required=True, help="unit code, e.g. TN.CHN")
    announce.add_argument("--title", help="English title")
    announce.add_argument("--content-file", type=Path, help="English text ('-' = stdin)")
    announce.add_argument("--title-ta", help="Tamil title")
    announce.add_argument("--content-ta-file", type=Path, help="Tamil text")
    announce.add_argument("--sms-text", help="the short text SMS recipients get")
    announce.add_argument("--at", help="publish time, ISO 8601 (default: now)")
    announce.add_argument("--expires", help="stop sending after this time, ISO 8601")
    announce.add_argument("--as", dest="official", help="announce as this official (phone, E.164)")
    announce.set_defaults(handler=_announce)

    report = sub.add_parser("report", help="delivery report of an announcement")
    report.add_argument("announcement_id", type=uuid.UUID)
    report.set_defaults(handler=_report)


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")


def _rupees(paise: int) -> str:
    return format_currency(paise / 100, "INR", locale="en_IN")


def _announce(args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from core import announcements
    from core.config import load_settings
    from core.db import make_engine, make_session_factory
    from core.jobs import redis_jobs

    settings = load_settings()

    async def run() -> int:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with make_session_factory(engine).begin() as session:
                official = await acting_official(session, args.official)
                if official is False:
                    return 2
                result = await announcements.create(
                    session,
                    official_member_id=official,
                    unit_code=args.unit,
                    title=args.title,
                    content=_read(args.content_file),
                    title_ta=args.title_ta,
                    content_ta=_read(args.content_ta_file),
                    sms_text=args.sms_text,
                    publish_at=moment(args.at),
                    expires_at=moment(args.expires),
                    now=datetime.now(UTC),
                    settings=settings,
                )
                if isinstance(result, announcements.Refused):
                    return refused(result)
        finally:
            await engine.dispose()
        redis = Redis.from_url(settings.redis_url)
        try:
            await redis_jobs(redis).schedule_publish(result.announcement_id, result.publish_at)
        finally:
            await redis.aclose()
        print(f"announcement {result.announcement_id}")
        print(f"unit: {result.unit_code}")
        print(f"publish at: {result.publish_at.astimezone(INDIA):%Y-%m-%d %H:%M} IST")
        if result.sms is not None:
            sms = result.sms
            print(
                f"sms: {sms.encoding}, {sms.characters} characters, {sms.parts} part(s),"
                f" {_rupees(sms.cost_paise)} per member"
            )
        return 0

    return asyncio.run(run())


def _report(args: argparse.Namespace) -> int:
    from core.deliveries import report

    async def work(session: Any, settings: Any) -> int:
        found = await report(session, args.announcement_id, settings)
        if found is None:
            print("no such announcement", file=sys.stderr)
            return 1
        print(f"{found.title} — {found.unit_code} ({found.unit_name}), {found.status}")
        print(f"recipients: {found.total}")
        for status, n in sorted(found.by_status.items(), key=lambda kv: -kv[1]):
            print(f"  {status}: {n}")
        print("by channel:")
        for channel, per in sorted(found.by_channel.items()):
            detail = ", ".join(f"{s} {n}" for s, n in sorted(per.items(), key=lambda kv: -kv[1]))
            print(f"  {channel}: {sum(per.values())} ({detail})")
        print("by district:")
        for d in found.by_district:
            print(
                f"  {d.name}: {d.total} (delivered {d.delivered}, failed {d.failed},"
                f" pending {d.pending})"
            )
        print(f"sms parts: {found.sms_parts}, cost so far {_rupees(found.sms_cost_paise)},"
              f" estimated in all {_rupees(found.sms_estimated_total_paise)}")  # fmt: skip
        print(
            f"whatsapp tier: {found.whatsapp_rerouted} went by another channel,"
            f" {found.whatsapp_waiting} wait for the next day;"
            f" {found.whatsapp_fallback} unreachable on WhatsApp went another way"
        )
        if found.in_doubt or found.settled:
            print(
                f"left in flight by a stopped worker: {found.uncertain} uncertain (may not"
                f" have arrived; not sent again), {found.resent} sent again because the"
                f" provider had no record (may have arrived twice), {found.settled} found"
                " at the provider"
            )
        for code, reason, n in found.failures:
            print(f"  not sent: {n} × {code or '-'} {reason}")
        return 0

    return in_session(work, write=False)
