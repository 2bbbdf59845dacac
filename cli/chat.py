"""``vck chat --phone +91…``: the console channel — the same engine and flows in a
terminal, with no provider credentials. SMS codes and messages to other people are
printed instead of sent."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.channels.base import Channel, Reply
from core.config import load_settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

BANNER = (
    "VCK Connect console. Type as a member would; /location LAT LON shares a location, "
    "Ctrl-D quits.\n"
)


class ConsolePorts:
    """Prints what would leave through a provider (core.effects.Ports); announcements are
    scheduled for the worker as the bot would."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        sms_template: str | None = None,
        *,
        key: str | None = None,
    ) -> None:
        print(f"\n  [{channel.value} → {address}] {reply.as_plain_text()}\n")

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        print(f"\n  [SMS → {phone}] {text}\n")

    async def send_template(
        self, address: str, content_sid: str, variables: dict[str, str], *, daily_limit: int
    ) -> bool:
        print(f"\n  [whatsapp template {content_sid} → {address}] {variables}\n")
        return True

    async def schedule_publish(
        self, announcement_id: uuid.UUID, publish_at: datetime | None
    ) -> None:
        from core.jobs import redis_jobs

        await redis_jobs(self.redis).schedule_publish(announcement_id, publish_at)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    who = chat.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="the member's phone, e.g. +919876543210")
    who.add_argument(
        "--as-official", action="store_true", help="be the demo Chennai district secretary"
    )
    chat.set_defaults(handler=_chat)


def _chat(args: argparse.Namespace) -> int:
    from core.phones import normalise_phone

    phone = official_phone() if args.as_official else normalise_phone(args.phone)
    if phone is None:
        print(f"not a phone number: {args.phone}", file=sys.stderr)
        return 2
    try:
        asyncio.run(converse(phone))
    except KeyboardInterrupt:
        pass
    return 0


def official_phone() -> str:
    from core.seed.demo import DEMO_PEOPLE

    return next(p.phone for p in DEMO_PEOPLE if p.unit == "TN.CHN" and p.position)


async def converse(phone: str) -> None:
    from redis.asyncio import Redis

    from bot.engine import Engine
    from core import places
    from core.channels.console import parse_console_line, render
    from core.db import make_engine

    settings = load_settings()
    db = make_engine(settings.database_url, pool_size=2)
    redis = Redis.from_url(settings.redis_url)
    engine = Engine(settings, db, redis, ConsolePorts(redis))
    print(BANNER)
    preload = asyncio.create_task(asyncio.to_thread(places.preload))  # PIN directory, ~2 s
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            if not line.strip():
                continue
            message = parse_console_line(
                phone, line, received_at=datetime.now(UTC), counter=time.time_ns()
            )
            for reply in await engine.handle(message):
                print("\n" + "\n".join(f"bot> {row}" for row in render(reply).splitlines()) + "\n")
    finally:
        await preload
        await redis.aclose()
        await db.dispose()
