"""core.routing: one answer to "which provider carries this", and where a member who
is not the one writing can be told something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import routing
from core.channels.base import Channel
from tests.factories import make_member, make_tree
from tests.test_fanout import address

NOW = datetime(2026, 1, 26, 4, 30, tzinfo=UTC)
PREFIXES = ("+91", "+94_")


@pytest.mark.parametrize(
    ("channel", "address_", "provider", "bucket"),
    [
        (Channel.SMS, "+919811100001", "dlt", "sms_dlt"),
        (Channel.SMS, "+447700900001", "twilio", "sms_twilio"),
        (Channel.WHATSAPP, "+919811100001", "twilio", "whatsapp"),
        (Channel.TELEGRAM, "91000001", "telegram", "telegram"),
        (Channel.CONSOLE, "+919811100001", "console", "sms_twilio"),
    ],
)
def test_the_provider_and_bucket_of_a_channel_and_address(
    channel: Channel, address_: str, provider: str, bucket: str
) -> None:
    assert routing.provider_for(channel, address_, PREFIXES) == provider
    assert routing.bucket_kind(channel, provider) == bucket


@pytest.mark.parametrize("number", ["+919811100001", "+94_1234", "+447700900001", "+9401234"])
async def test_the_sql_patterns_agree_with_the_python_choice(
    session: AsyncSession, number: str
) -> None:
    in_sql = await session.scalar(
        text("SELECT CAST(:n AS text) LIKE ANY (CAST(:patterns AS text[]))"),
        {"n": number, "patterns": routing.dlt_patterns(PREFIXES)},
    )
    assert in_sql == (routing.sms_provider(number, PREFIXES) == "dlt")


async def test_the_address_they_last_wrote_from_unless_opted_out(session: AsyncSession) -> None:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "telegram", "9100", last_inbound_at=NOW - timedelta(days=2))
    await address(session, member, "sms", last_inbound_at=NOW - timedelta(hours=1),
                  opted_out_at=NOW - timedelta(minutes=5))  # fmt: skip
    await session.flush()
    assert await routing.best_address(session, member.id, now=NOW) == (Channel.TELEGRAM, "9100")


async def test_whatsapp_only_inside_its_window(session: AsyncSession) -> None:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "whatsapp", last_inbound_at=NOW - timedelta(hours=25))
    await session.flush()
    assert await routing.best_address(session, member.id, now=NOW) == (Channel.SMS, member.phone)
    assert await routing.best_address(session, member.id, now=NOW - timedelta(hours=2)) == (
        Channel.WHATSAPP,
        member.phone,
    )


async def test_no_phone_fallback_for_a_member_who_said_stop(session: AsyncSession) -> None:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "whatsapp", last_inbound_at=NOW - timedelta(hours=1),
                  opted_out_at=NOW - timedelta(minutes=5))  # fmt: skip
    await session.flush()
    assert await routing.best_address(session, member.id, now=NOW) is None
