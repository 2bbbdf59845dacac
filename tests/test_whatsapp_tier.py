"""The WhatsApp tier counts every business-initiated message (issue 10.5): an OTP code,
a notice or a reminder that goes to a member outside the 24-hour window takes a slot of
the daily unique-recipient tier, as an announcement's template does, and announcements
published afterwards find that much less capacity (core/whatsapp_tier.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import whatsapp_tier
from core.channels.base import Channel, Reply
from core.config import Settings
from core.fanout import FanoutPolicy, publish
from core.jobs import redis_jobs
from core.outbound import Dispatcher, EffectPorts, Senders
from tests.factories import Tree, make_member
from tests.test_fanout import address, announce, rows, tree  # noqa: F401  (fixture)
from tests.test_worker import HELLO, Fakes, fakes, notifier_settings  # noqa: F401  (fixtures)

NOW = datetime.now(UTC)


async def uses(engine: AsyncEngine) -> list[tuple[object, object]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT member_id, address_key FROM whatsapp_tier_uses ORDER BY id")
        )
        return [tuple(r) for r in found]


async def test_a_notice_outside_the_window_takes_a_slot_and_one_inside_does_not(
    notifier_settings: Settings,  # noqa: F811
    fakes: Fakes,  # noqa: F811
    engine: AsyncEngine,
    session: AsyncSession,
    tree: Tree,  # noqa: F811
    redis: Redis,
) -> None:
    quiet = await make_member(session, unit=tree.booth_a1, phone="+919811155501")
    await address(session, quiet, "whatsapp", last_inbound_at=NOW - timedelta(days=2))
    talking = await make_member(session, unit=tree.booth_a1, phone="+919811155502")
    await address(session, talking, "whatsapp", last_inbound_at=NOW - timedelta(minutes=3))
    await session.commit()
    senders = Senders.from_settings(notifier_settings)
    secret = notifier_settings.secret_key.get_secret_value()
    ports = EffectPorts(
        Dispatcher(senders, notifier_settings),
        redis_jobs(redis),
        tier=whatsapp_tier.Ledger(engine, secret),
    )
    try:
        for phone in ("+919811155501", "+919811155502", "+919811155503"):
            await ports.send(Channel.WHATSAPP, phone, Reply(HELLO))
        await ports.send(Channel.SMS, "+919811155501", Reply(HELLO))
    finally:
        await senders.close()

    assert len(fakes.twilio.sent) == 3 and len(fakes.dlt.sent) == 1  # all four went
    # The quiet member takes a slot by id; the stranger by a keyed hash, not the number;
    # the member who wrote three minutes ago and the SMS take none.
    assert await uses(engine) == [
        (quiet.id, None),
        (None, whatsapp_tier.address_key(secret, "+919811155503")),
    ]
    async with engine.connect() as conn:
        assert await whatsapp_tier.used(conn, now=NOW + timedelta(seconds=5)) == 2
        # A rolling day later the slots are free again.
        assert await whatsapp_tier.used(conn, now=NOW + timedelta(hours=25)) == 0


async def test_announcements_find_the_slots_other_messages_took(
    session: AsyncSession,
    settings: Settings,
    tree: Tree,  # noqa: F811
) -> None:
    unit = tree.booth_a2
    members = []
    for _ in range(3):
        member = await make_member(session, unit=unit)
        await address(session, member, "whatsapp")  # never wrote: templates only
        members.append(member)
    reached, first, second = members
    # An hour ago: an OTP code to `reached`, a reminder to someone outside this unit.
    await whatsapp_tier.record(
        session, member_id=reached.id, key=None, now=NOW - timedelta(hours=1)
    )
    await whatsapp_tier.record(
        session, member_id=None, key="h-stranger", now=NOW - timedelta(hours=1)
    )
    policy = FanoutPolicy(whatsapp_daily_limit=3, overflow_to_sms=False)

    aid = await announce(session, settings, unit.code, now=NOW)
    await publish(session, aid, now=NOW, policy=policy)
    got = await rows(session, aid)

    # Three slots, two taken: `reached` holds one already (no new slot), one of the other
    # two gets the last, the other waits for the rolling day.
    assert got[reached.id].status == "queued" and got[reached.id].whatsapp_tier_at is None
    others = sorted(got[m.id].status for m in (first, second))
    assert others == ["deferred", "queued"]
    assert await whatsapp_tier.used(session, now=NOW) == 3
