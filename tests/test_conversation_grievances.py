"""Grievances in chat: a member raises a complaint, it climbs when nobody answers, an
official asks and resolves, a poor rating appeals it — and the bad input on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import effects
from core.channels.base import Channel
from core.models import (
    AccessLogEntry,
    Grievance,
    GrievanceEvent,
    Message,
    OrganizationUnit,
    Position,
    UnitType,
)
from core.services import grievance_clock
from tests.factories import give_position, make_member, make_unit

MEMBER_PHONE = "+919443300001"  # an SMS member in a Cuddalore booth (DLT)
CONSTITUENCY_PHONE = "+12025550181"
DISTRICT_PHONE = "+12025550182"
STATE_PHONE = "+12025550101"  # Kavitha Selvam, the demo's General Secretary


async def cuddalore(session: AsyncSession) -> dict[str, object]:
    """A booth of Cuddalore constituency with no official; the constituency and the
    district each have a secretary who handles grievances."""
    units = {
        u.code: u
        for u in await session.scalars(
            select(OrganizationUnit).where(OrganizationUnit.code.in_(("TN.CUD", "TN.CUD.AC155")))
        )
    }
    positions = {p.name: p for p in await session.scalars(select(Position))}
    booth = await make_unit(
        session, type=UnitType.BOOTH, parent=units["TN.CUD.AC155"], label="B0001",
        name="Cuddalore OT",
    )  # fmt: skip
    people = {}
    for phone, unit, position in (
        (CONSTITUENCY_PHONE, units["TN.CUD.AC155"], "Constituency Secretary"),
        (DISTRICT_PHONE, units["TN.CUD"], "District Secretary"),
    ):
        official = await make_member(session, unit=unit, phone=phone, first_name="Official")
        await give_position(session, official, unit=unit, position=positions[position])
        people[phone] = official
    people[MEMBER_PHONE] = await make_member(
        session, unit=booth, phone=MEMBER_PHONE, first_name="Selvi", language="ta"
    )
    await session.commit()
    return people


async def raise_by_sms(sms, description: str = "எங்கள் தெருவில் சாதி வன்முறை நடந்தது.") -> str:
    await sms.says("புகார்")  # a number never seen: the menu first
    assert "புதிய புகார்" in await sms.says("புகார்")
    categories = await sms.says("1")
    assert "சாதி வன்கொடுமை" in categories
    assert "சில சொற்களில்" in await sms.says("1")
    assert "எழுதுங்கள்" in await sms.says("தாக்குதல்")
    summary = await sms.says(description)
    assert "அனுப்பலாமா" in summary and "தாக்குதல்" in summary
    return await sms.says("1")


async def test_done_when_an_urgent_sms_complaint_climbs_is_answered_and_appealed(
    member, providers, session, bot
) -> None:
    people = await cuddalore(session)
    sms = member(Channel.SMS, MEMBER_PHONE)
    registered = await raise_by_sms(sms)
    assert "புகார் பதிவானது" in registered and "அவசரம்" in registered
    ticket = await session.scalar(select(Grievance))
    number = ticket.ticket_number
    assert number in registered and len(number) == 8 and number.isdigit()
    # The booth has no official: the constituency's gets it; district and state are told.
    assert ticket.priority == "urgent" and ticket.assigned_to == people[CONSTITUENCY_PHONE].id
    for phone in (CONSTITUENCY_PHONE, DISTRICT_PHONE, STATE_PHONE):
        assert any(number in text for text in providers.sms_to(phone)), phone

    # Nobody acknowledges within two hours: the sweep (clock moved on) sends it up.
    later = datetime.now(UTC) + timedelta(hours=2, minutes=1)
    swept = await grievance_clock.sweep(session, bot.settings, now=later)
    await session.commit()
    assert swept.escalated == 1
    await effects.deliver_due(bot.db, bot.settings, bot.outbox)
    await session.refresh(ticket)
    assert ticket.assigned_to == people[DISTRICT_PHONE].id and ticket.escalations == 1
    district_told = [t for t in providers.sms_to(DISTRICT_PHONE) if "உரிய நேரத்தில்" in t]
    constituency_told = [t for t in providers.sms_to(CONSTITUENCY_PHONE) if "கடலூர்" in t]
    assert district_told and constituency_told  # both levels
    assert any("உரிய நேரத்தில்" in t for t in providers.sms_to(MEMBER_PHONE))

    # The district official opens it from their desk and asks a question.
    official = member(Channel.WHATSAPP, DISTRICT_PHONE)
    await official.says("hi")
    queue = await official.says("புகார் மேசை")
    assert number in queue
    opened = await official.says("1")
    assert "சாதி வன்முறை" in opened and "தாக்குதல்" in opened
    assert await session.scalar(
        select(func.count()).select_from(AccessLogEntry).where(
            AccessLogEntry.official_id == people[DISTRICT_PHONE].id, AccessLogEntry.what == "grievance"
        )
    ) == 1  # fmt: skip
    await official.says("கேள்")  # ask the member
    assert "அனுப்பினோம்" in await official.says("எந்த ஊர்? எப்போது நடந்தது?")
    asked = providers.sms_to(MEMBER_PHONE)[-1]
    assert "எந்த ஊர்" in asked and number in asked

    # The member's next message is the answer.
    answered = await sms.says("கண்டமானடி, நேற்று இரவு")
    assert f"{number}-இல் சேர்த்தோம்" in answered

    # The official resolves it.
    await official.says("புகார் மேசை")
    reopened = await official.says(number)
    assert "கண்டமானடி" in reopened
    await official.says("தீர்வு")
    assert "தீர்த்தோம்" in await official.says("காவல் நிலையத்தில் புகார் பதிவு செய்தோம்.")
    assert any("தீர்ந்தது" in t for t in providers.sms_to(MEMBER_PHONE))

    # The member rates it poor: it reopens at the state as an appeal.
    assert "மேல்முறையீடாக" in await sms.says("2")
    await session.refresh(ticket)
    state = await session.scalar(select(OrganizationUnit).where(OrganizationUnit.code == "TN"))
    assert ticket.is_appeal and ticket.status == "submitted"
    assert ticket.handling_unit_id == state.id
    assert any(number in t and "மேல்முறையீடு" in t for t in providers.sms_to(STATE_PHONE))

    events = (
        await session.execute(
            select(GrievanceEvent.kind, GrievanceEvent.actor_id)
            .where(GrievanceEvent.grievance_id == ticket.id)
            .order_by(GrievanceEvent.id)
        )
    ).all()
    member_id, district_id = people[MEMBER_PHONE].id, people[DISTRICT_PHONE].id
    assert [tuple(e) for e in events] == [
        ("created", member_id),
        ("escalated", None),
        ("asked", district_id),
        ("answered", member_id),
        ("resolved", district_id),
        ("rated", member_id),
        ("reopened", member_id),
    ]
    # Nothing the member wrote is in the message log.
    bodies = [b for b in await session.scalars(select(Message.body)) if b]
    assert not [b for b in bodies if "தாக்குதல்" in b or "கண்டமானடி" in b or "வன்முறை நடந்தது" in b]
