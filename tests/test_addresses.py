"""core.services.addresses: what is kept per (channel, address), before and after joining."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.channels.base import Channel
from core.models import ChannelAddress
from core.services import addresses
from tests.factories import make_member, random_phone

NOW = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


async def test_get_or_create_makes_one_row(session: AsyncSession) -> None:
    phone = random_phone()
    first = await addresses.get_or_create(session, Channel.WHATSAPP, phone, now=NOW)
    second = await addresses.get_or_create(
        session, "whatsapp", phone, now=NOW + timedelta(minutes=1)
    )
    assert first.id == second.id
    assert (first.channel, first.address, first.created_at) == ("whatsapp", phone, NOW)
    assert first.phone is None and first.member_id is None  # nothing learnt yet


async def test_get_or_create_is_safe_when_two_messages_race(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    phone = random_phone()

    async def first_message() -> ChannelAddress:
        async with session_factory() as s, s.begin():
            return await addresses.get_or_create(s, "sms", phone, now=NOW)

    rows = await asyncio.gather(first_message(), first_message(), first_message())
    assert len({r.id for r in rows}) == 1


async def test_refusing_consent_stores_only_the_refusal(session: AsyncSession) -> None:
    await addresses.set_language(session, "telegram", "777001", "en", now=NOW)
    await addresses.link_phone(
        session, "telegram", "777001", phone=random_phone(), member_id=None, now=NOW
    )
    await addresses.give_consent(session, "telegram", "777001", now=NOW)

    row = await addresses.refuse_consent(
        session, "telegram", "777001", now=NOW + timedelta(minutes=1)
    )

    assert row.consent_refused_at == NOW + timedelta(minutes=1)
    assert row.consent_given_at is None
    assert row.phone is None and row.member_id is None
    assert row.opted_out_at is None and row.last_inbound_at is None
    assert row.language == "en"  # so the next message is answered in it

    fresh = await addresses.refuse_consent(session, "whatsapp", "+919840012345", now=NOW)
    await session.refresh(fresh)
    kept = {c.key: getattr(fresh, c.key) for c in ChannelAddress.__mapper__.column_attrs}
    assert {k for k, v in kept.items() if v is not None} == {
        "id",
        "channel",
        "address",
        "consent_refused_at",
        "created_at",
        "updated_at",
    }


async def test_giving_consent_after_refusing(session: AsyncSession) -> None:
    await addresses.refuse_consent(session, "sms", "+919840012345", now=NOW)
    row = await addresses.give_consent(
        session, "sms", "+919840012345", now=NOW + timedelta(hours=1)
    )
    assert row.consent_given_at == NOW + timedelta(hours=1) and row.consent_refused_at is None


async def test_stop_and_start(session: AsyncSession) -> None:
    phone = random_phone()
    row = await addresses.opt_out(session, "whatsapp", phone, now=NOW)
    assert row.opted_out_at == NOW
    row = await addresses.opt_out(session, "whatsapp", phone, now=NOW + timedelta(days=1))
    assert row.opted_out_at == NOW  # the first STOP is kept
    row = await addresses.opt_in(session, "whatsapp", phone, now=NOW + timedelta(days=2))
    assert row.opted_out_at is None
    count = await session.scalar(
        select(func.count()).select_from(ChannelAddress).where(ChannelAddress.address == phone)
    )
    assert count == 1


async def test_touch_inbound_never_goes_back_in_time(session: AsyncSession) -> None:
    phone = random_phone()
    row = await addresses.touch_inbound(session, "whatsapp", phone, now=NOW)
    assert row.last_inbound_at == NOW
    row = await addresses.touch_inbound(session, "whatsapp", phone, now=NOW + timedelta(hours=2))
    assert row.last_inbound_at == NOW + timedelta(hours=2)
    row = await addresses.touch_inbound(session, "whatsapp", phone, now=NOW + timedelta(hours=1))
    assert row.last_inbound_at == NOW + timedelta(hours=2)


async def test_link_member_and_find_member_for(session: AsyncSession) -> None:
    member = await make_member(session)
    # WhatsApp, SMS and the console: the address is the phone
    for channel in ("whatsapp", "sms", "console"):
        assert (await addresses.find_member_for(session, channel, member.phone)) is member
    # Telegram: only once linked
    assert await addresses.find_member_for(session, "telegram", "424242") is None
    row = await addresses.link_member(
        session, "telegram", "424242", member_id=member.id, phone=member.phone, now=NOW
    )
    assert (row.member_id, row.phone) == (member.id, member.phone)
    assert (await addresses.find_member_for(session, "telegram", "424242")) is member
    assert await addresses.find_member_for(session, "whatsapp", random_phone()) is None


async def test_set_language_follows_to_the_linked_member(session: AsyncSession) -> None:
    member = await make_member(session, language="ta")
    await addresses.link_member(
        session, "telegram", "5150", member_id=member.id, phone=member.phone, now=NOW
    )
    row = await addresses.set_language(session, "telegram", "5150", "en", now=NOW)
    assert row.language == "en"
    await session.refresh(member)
    assert member.language == "en"


async def test_addresses_of_leaves_out_stop_and_refusal(session: AsyncSession) -> None:
    member = await make_member(session)
    for channel, address in (("whatsapp", member.phone), ("sms", member.phone), ("telegram", "61")):
        await addresses.link_member(
            session, channel, address, member_id=member.id, phone=member.phone, now=NOW
        )
    await addresses.touch_inbound(session, "telegram", "61", now=NOW)
    await addresses.opt_out(session, "sms", member.phone, now=NOW)
    reachable = await addresses.addresses_of(session, member.id)
    assert [(r.channel, r.address) for r in reachable] == [
        ("telegram", "61"),
        ("whatsapp", member.phone),
    ]
    assert len(await addresses.addresses_of(session, member.id, reachable_only=False)) == 3
