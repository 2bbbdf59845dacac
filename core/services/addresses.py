"""The addresses people write from: one ``channel_addresses`` row per (channel, address).

A row exists before any membership: it holds the language chosen, DPDP consent or its
refusal, STOP, and the last inbound message (WhatsApp's 24-hour window). After signup,
or after a Telegram user proves their phone with an OTP, it is linked to the member.

Every function upserts, so it works on the first message from a new address and when
two messages from one address are handled at once. Nothing commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.i18n import Language
from core.models.members import Member
from core.models.messaging import ChannelAddress

PHONE_CHANNELS = frozenset({Channel.WHATSAPP, Channel.SMS, Channel.CONSOLE})
"""Channels whose address is the member's phone number (E.164)."""


async def _upsert(
    session: AsyncSession,
    channel: Channel | str,
    address: str,
    now: datetime,
    values: dict[str, Any],
    on_update: dict[str, Any] | None = None,
) -> ChannelAddress:
    """Insert the row with ``values``, or set ``on_update`` (default: ``values``) on the
    existing one; one statement, safe against a concurrent first message."""
    statement = (
        insert(ChannelAddress)
        .values(
            channel=Channel(channel).value,
            address=address,
            created_at=now,
            updated_at=now,
            **values,
        )
        .on_conflict_do_update(
            index_elements=[ChannelAddress.channel, ChannelAddress.address],
            set_={**(values if on_update is None else on_update), "updated_at": now},
        )
        .returning(ChannelAddress)
    )
    row = await session.scalar(statement, execution_options={"populate_existing": True})
    assert row is not None
    return row


async def get(session: AsyncSession, channel: Channel | str, address: str) -> ChannelAddress | None:
    return await session.scalar(
        select(ChannelAddress).where(
            ChannelAddress.channel == Channel(channel).value, ChannelAddress.address == address
        )
    )


async def get_or_create(
    session: AsyncSession, channel: Channel | str, address: str, *, now: datetime
) -> ChannelAddress:
    found = await get(session, channel, address)
    if found is not None:
        return found
    inserted = await session.scalar(
        insert(ChannelAddress)
        .values(channel=Channel(channel).value, address=address, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[ChannelAddress.channel, ChannelAddress.address])
        .returning(ChannelAddress),
        execution_options={"populate_existing": True},
    )
    if inserted is not None:
        return inserted
    found = await get(session, channel, address)  # inserted meanwhile by another process
    assert found is not None
    return found


async def set_language(
    session: AsyncSession,
    channel: Channel | str,
    address: str,
    language: Language | str,
    *,
    now: datetime,
) -> ChannelAddress:
    """The language this address is spoken to in; a linked member's language follows."""
    lang = Language(language).value
    row = await _upsert(session, channel, address, now, {"language": lang})
    if row.member_id is not None:
        await session.execute(
            update(Member)
            .where(Member.id == row.member_id)
            .values(language=lang, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
    return row


async def give_consent(
    session: AsyncSession, channel: Channel | str, address: str, *, now: datetime
) -> ChannelAddress:
    """DPDP consent by clear affirmative action (the member chose "I agree")."""
    return await _upsert(
        session, channel, address, now, {"consent_given_at": now, "consent_refused_at": None}
    )


async def refuse_consent(
    session: AsyncSession, channel: Channel | str, address: str, *, now: datetime
) -> ChannelAddress:
    """Record only that this address refused (or withdrew) consent: no name, and no phone
    beyond the address itself (a phone learnt from a Telegram contact is forgotten).
    The language stays, so the next message is still answered in it.

    A linked member keeps the link: erasing a member's data when they withdraw consent
    is its own service, not this one."""
    row = await get(session, channel, address)
    values: dict[str, Any] = {"consent_given_at": None, "consent_refused_at": now}
    if row is None or row.member_id is None:
        values["phone"] = None
    return await _upsert(session, channel, address, now, values)


async def opt_out(
    session: AsyncSession, channel: Channel | str, address: str, *, now: datetime
) -> ChannelAddress:
    """STOP (or Twilio error 21610): no broadcast goes to this address. Keeps the first
    opt-out time when repeated."""
    return await _upsert(
        session,
        channel,
        address,
        now,
        {"opted_out_at": now},
        {"opted_out_at": func.coalesce(ChannelAddress.opted_out_at, now)},
    )


async def opt_in(
    session: AsyncSession, channel: Channel | str, address: str, *, now: datetime
) -> ChannelAddress:
    """START: broadcasts reach this address again."""
    return await _upsert(session, channel, address, now, {"opted_out_at": None})


async def touch_inbound(
    session: AsyncSession, channel: Channel | str, address: str, *, now: datetime
) -> ChannelAddress:
    """The member just wrote: WhatsApp's 24-hour window (re)opens at ``now``. Never moves
    the time backwards when messages are handled out of order."""
    return await _upsert(
        session,
        channel,
        address,
        now,
        {"last_inbound_at": now},
        {"last_inbound_at": func.greatest(ChannelAddress.last_inbound_at, now)},
    )


async def link_member(
    session: AsyncSession,
    channel: Channel | str,
    address: str,
    *,
    member_id: uuid.UUID,
    phone: str,
    now: datetime,
) -> ChannelAddress:
    """Tie the address to a member: after signup, or after a Telegram user shared their
    contact and confirmed the OTP sent to ``phone`` (E.164)."""
    return await _upsert(session, channel, address, now, {"member_id": member_id, "phone": phone})


async def link_phone(
    session: AsyncSession,
    channel: Channel | str,
    address: str,
    *,
    phone: str,
    member_id: uuid.UUID | None,
    now: datetime,
) -> ChannelAddress:
    """A Telegram user proved ``phone`` with an OTP: remember it, and the member it
    belongs to — or no member yet (they may go on to sign up; then :func:`link_member`)."""
    return await _upsert(session, channel, address, now, {"member_id": member_id, "phone": phone})


async def find_member_for(
    session: AsyncSession, channel: Channel | str, address: str
) -> Member | None:
    """The member writing from this address: the linked one, or — on WhatsApp, SMS and
    the console, whose address is the phone — the member with that phone."""
    channel = Channel(channel)
    row = await get(session, channel, address)
    if row is not None and row.member_id is not None:
        return await session.get(Member, row.member_id)
    if channel in PHONE_CHANNELS:
        return await session.scalar(select(Member).where(Member.phone == address))
    return None


async def addresses_of(
    session: AsyncSession, member_id: uuid.UUID, *, reachable_only: bool = True
) -> list[ChannelAddress]:
    """A member's addresses, most recently used first; by default without those that
    said STOP or refused consent."""
    query = select(ChannelAddress).where(ChannelAddress.member_id == member_id)
    if reachable_only:
        query = query.where(
            ChannelAddress.opted_out_at.is_(None), ChannelAddress.consent_refused_at.is_(None)
        )
    query = query.order_by(ChannelAddress.last_inbound_at.desc().nulls_last())
    return list(await session.scalars(query))


async def link_phone_channels(
    session: AsyncSession, phone: str, member_id: uuid.UUID, *, now: datetime
) -> None:
    """After signup: every WhatsApp, SMS and console address of ``phone`` that is not yet
    linked belongs to the new member (they may have said hello on another channel)."""
    await session.execute(
        update(ChannelAddress)
        .where(
            ChannelAddress.address == phone,
            ChannelAddress.channel.in_([c.value for c in PHONE_CHANNELS]),
            ChannelAddress.member_id.is_(None),
        )
        .values(member_id=member_id, phone=phone, updated_at=now)
        .execution_options(synchronize_session=False)
    )
