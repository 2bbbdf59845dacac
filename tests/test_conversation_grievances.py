"""Grievances in chat: a member raises a complaint, it climbs when nobody answers, an
official asks and resolves, a poor rating appeals it — and the bad input on the way."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import effects
from core.channels.base import Channel
from core.models import (
    AccessLogEntry,
    Grievance,
    GrievanceEvent,
    Member,
    Message,
    OrganizationUnit,
    Position,
    UnitType,
)
from core.services import grievance_clock
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio
from tests.factories import give_position, make_member, make_unit

IDS = itertools.count(70_000)

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
    reads = select(func.count()).select_from(AccessLogEntry)
    reads = reads.where(AccessLogEntry.official_id == people[DISTRICT_PHONE].id)
    assert await session.scalar(reads.where(AccessLogEntry.what == "grievance")) == 1
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
    # By SMS the member follows it by number; every reply is a registered DLT template.
    await sms.says("புகார்")
    assert number in await sms.says("2")
    status = await sms.says(number)
    assert "பார்வைக்குக் காத்திருக்கிறது" in status and "மேலும் சேர்க்க" in status
    # Nothing the member wrote is in the message log.
    bodies = [b for b in await session.scalars(select(Message.body)) if b]
    assert not [b for b in bodies if "தாக்குதல்" in b or "கண்டமானடி" in b or "வன்முறை நடந்தது" in b]


# --- bad input -------------------------------------------------------------------------

PRIYA = "+12025550111"  # Chennai, English, WhatsApp
KARTHIK = "+12025550112"  # Chennai, Tamil
VILLUPURAM_SECRETARY = "+12025550103"
CHENNAI_SECRETARY = "+12025550102"


async def to_description(m, subject: str = "Street light broken") -> None:
    await m.says("hi")
    await m.says("complaint")
    await m.says("1")  # new complaint
    await m.says("4")  # local civic problem
    await m.says(subject)


async def test_an_empty_or_overlong_description_is_asked_again(member) -> None:
    priya = member(Channel.WHATSAPP, PRIYA)
    await to_description(priya)
    assert "Please write what happened in words" in await priya.says("")
    too_long = await priya.says("x" * 5000)
    assert "at most 2000 characters" in too_long
    assert "photo or a voice note" in await priya.says("The light on 3rd street is out.")


async def test_a_subject_too_long_is_asked_again_and_nothing_is_lost(member) -> None:
    priya = member(Channel.WHATSAPP, PRIYA)
    await priya.says("hi")
    await priya.says("complaint")
    await priya.says("1")
    await priya.says("4")
    assert "90 characters" in await priya.says("y" * 91)
    assert "describe" in await priya.says("Light out")


async def test_an_attachment_by_sms_is_refused_with_the_reason(member, bot, providers) -> None:
    sms = member(Channel.SMS, KARTHIK)  # a +1 number: SMS through Twilio
    await to_description(sms, "தெரு விளக்கு")
    form = fake_twilio.inbound_form(
        KARTHIK, "", NumMedia="1", MediaUrl0="https://api.twilio.com/m/ME1",
        MediaContentType0="image/jpeg",
    )  # fmt: skip
    response = await sms.post_twilio(form)
    assert response.status == 200
    await bot.drain()
    said = await response.text() + " ".join(m.get("Body", "") for m in providers.twilio.sent[-1:])
    assert "SMS-இல் புகைப்படமோ குரல் பதிவோ அனுப்ப முடியாது" in said


async def test_a_file_or_a_huge_photo_is_refused_and_a_photo_is_kept_by_reference(
    member, bot, providers, session
) -> None:
    from sqlalchemy import select as select_

    from core.models import Member
    from core.services import addresses

    karthik = await session.scalar(select_(Member).where(Member.phone == KARTHIK))
    chat = 5550777
    await addresses.give_consent(session, Channel.TELEGRAM, str(chat), now=datetime.now(UTC))
    await addresses.link_member(session, Channel.TELEGRAM, str(chat), member_id=karthik.id,
                                phone=KARTHIK, now=datetime.now(UTC))  # fmt: skip
    await session.commit()
    tg = member(Channel.TELEGRAM, str(chat))
    await to_description(tg, "தெரு விளக்கு")
    assert "புகைப்படம் அல்லது குரல் பதிவு" in await tg.says("மூன்று நாளாக எரியவில்லை.")

    async def send(**content) -> str:
        update = fake_telegram.message_update(next(IDS), chat, **content)
        before = len(providers.telegram.sent)
        assert (await tg.post_telegram(update)).status == 200
        return " ".join(str(m.get("text")) for m in providers.telegram.sent[before:])

    pdf = {"file_id": "DOC1", "file_unique_id": "u1", "mime_type": "application/pdf",
           "file_size": 1000, "file_name": "a.pdf"}  # fmt: skip
    assert "கோப்பு, வீடியோ வேண்டாம்" in await send(document=pdf)
    huge = [{"file_id": "BIG", "file_unique_id": "u2", "width": 9000, "height": 9000,
             "file_size": 50_000_000}]  # fmt: skip
    assert "மிகப் பெரியது" in await send(photo=huge)
    small = [{"file_id": "SMALL", "file_unique_id": "u3", "width": 800, "height": 600,
              "file_size": 90_000}]  # fmt: skip
    assert "எங்கே நடந்தது" in await send(photo=small)
    await tg.says("இல்லை")  # no location
    await tg.says("1")  # send
    ticket = await session.scalar(select(Grievance).where(Grievance.member_id == karthik.id))
    assert ticket.attachments == ["telegram:image:SMALL"]


async def test_unknown_someone_elses_and_closed_ticket_numbers(member, session, bot) -> None:
    from core.services import grievances

    priya = member(Channel.WHATSAPP, PRIYA)
    await to_description(priya)
    await priya.says("Light on 3rd street is out since Monday.")
    await priya.says("skip")
    await priya.says("skip")
    assert "registered" in await priya.says("1")
    mine = await session.scalar(select(Grievance))
    karthik = member(Channel.WHATSAPP, KARTHIK)
    await karthik.says("hi")
    await karthik.says("புகார்")
    assert "இதுவரை புகார் எதுவும் கொடுக்கவில்லை" in await karthik.says("2")
    # Priya: an unknown number, then her own; another's number is as unknown as a typo.
    await priya.says("complaint")
    await priya.says("2")  # my complaints
    assert "no complaint with that number" in await priya.says("26999999")
    assert mine.ticket_number in await priya.says(mine.ticket_number)
    official = await session.scalar(select(Member).where(Member.phone == CHENNAI_SECRETARY))
    closed = await grievances.reject(session, official.id, mine.ticket_number, "Not ours.",
                                     now=datetime.now(UTC))  # fmt: skip
    assert isinstance(closed, grievances.Changed)
    await grievances.rate(session, bot.settings, mine.member_id, mine.ticket_number, "good",
                          now=datetime.now(UTC))  # fmt: skip
    await session.commit()
    await priya.says("menu")
    await priya.says("complaint")
    await priya.says("2")
    assert "closed" in await priya.says(mine.ticket_number)
    assert "is closed: nothing can be added" in await priya.says("One more thing: it is dark.")


async def test_another_districts_official_cannot_open_a_ticket(member, session) -> None:
    priya = member(Channel.WHATSAPP, PRIYA)  # Chennai
    await to_description(priya)
    await priya.says("Light on 3rd street is out since Monday.")
    await priya.says("skip")
    await priya.says("skip")
    await priya.says("1")
    ticket = await session.scalar(select(Grievance))
    villupuram = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    await villupuram.says("hi")
    assert ticket.ticket_number not in await villupuram.says("புகார் மேசை")
    refused = await villupuram.says(ticket.ticket_number)
    assert "உங்கள் பகுதியில் இந்த எண்ணில் புகார் இல்லை" in refused
    assert "3rd street" not in refused
    reads = (
        select(func.count()).select_from(AccessLogEntry).where(AccessLogEntry.what == "grievance")
    )
    assert await session.scalar(reads) == 0
    chennai = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await chennai.says("hi")
    await chennai.says("புகார் மேசை")
    assert "3rd street" in await chennai.says(ticket.ticket_number)


async def test_an_official_acknowledges_and_hands_a_complaint_down_their_subtree(
    member, session, providers
) -> None:
    priya = member(Channel.WHATSAPP, PRIYA)  # Chennai, booth of AC018
    await to_description(priya)
    await priya.says("Light on 3rd street is out since Monday.")
    await priya.says("skip")
    await priya.says("skip")
    await priya.says("1")
    ticket = await session.scalar(select(Grievance))
    senthil = await session.scalar(select(Member).where(Member.phone == "+12025550104"))
    assert ticket.assigned_to == senthil.id  # the constituency's handler: the booth has none
    murugan = await session.scalar(select(Member).where(Member.phone == CHENNAI_SECRETARY))
    chennai = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await chennai.says("hi")
    await chennai.says("புகார் மேசை")
    actions = await chennai.says(ticket.ticket_number)
    assert "பார்த்தேன்" in actions
    assert "உறுப்பினருக்குத் தெரிவித்தோம்" in await chennai.says("1")  # acknowledge
    await session.refresh(ticket)
    assert ticket.status == "acknowledged" and ticket.assigned_to == murugan.id
    assert any("acknowledged" in str(m.get("Body")) for m in providers.twilio.sent
               if PRIYA in str(m.get("To")))  # fmt: skip
    await chennai.says("புகார் மேசை")
    await chennai.says(ticket.ticket_number)
    to_whom = await chennai.says("ஒப்படை")
    assert "Senthil" in to_whom and "Anbarasi" not in to_whom  # only their own subtree
    assert "ஒப்படைத்தோம்" in await chennai.says("1")
    await session.refresh(ticket)
    assert ticket.assigned_to == senthil.id
    kinds = list(await session.scalars(
        select(GrievanceEvent.kind).where(GrievanceEvent.grievance_id == ticket.id)
        .order_by(GrievanceEvent.id)
    ))  # fmt: skip
    assert kinds == ["created", "acknowledged", "reassigned"]


async def test_an_official_reads_the_report_of_their_area_in_chat(member, session) -> None:
    priya = member(Channel.WHATSAPP, PRIYA)
    await to_description(priya)
    await priya.says("Light on 3rd street is out since Monday.")
    await priya.says("skip")
    await priya.says("skip")
    await priya.says("1")
    chennai = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await chennai.says("hi")
    queue = await chennai.says("புகார் மேசை")
    assert "என் பகுதி நிலவரம்" in queue
    assert "பட்டியலில் உள்ள" in await chennai.says("7")  # neither an item nor a number
    report = await chennai.says("1")  # nothing of theirs waits: the report is the only item
    assert "TN.CHN புகார்கள்: 1 நிலுவையில், 0 காலக்கெடு தாண்டியவை." in report
    assert "ஊர்ப் பிரச்சினை: 1" in report
