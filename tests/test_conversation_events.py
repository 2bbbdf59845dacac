"""Members answer an event and check in from chat; 1,000 simultaneous yeses through the
real webhook give exactly 100 places and 900 on the waiting list."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from bot.state import ConversationState
from core.channels.base import Channel
from core.models import Announcement
from core.models.events import Event, EventAttendee, EventStatus, EventType
from core.services import attendance, conversations, events
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio
from tests.factories import make_member, make_official

VILLUPURAM_SECRETARY = "+12025550103"
TOWN_BOOTH = "TN.VPM.AC074.B0001"  # a demo booth of Villupuram
VENUE = events.Venue(11.9401, 79.4861, "Villupuram bus stand")


async def an_event(session, settings, *, starts_in: timedelta, **kw) -> events.Event:
    now = datetime.now(UTC)
    made = await events.create(
        session,
        official_member_id=None,
        unit_code="TN.VPM",
        title="District rally",
        title_ta="மாவட்டப் பேரணி",
        type=EventType.RALLY,
        start=now + starts_in,
        venue=VENUE,
        now=now,
        settings=settings,
        **kw,
    )
    assert not isinstance(made, events.Refused), made
    made.status = EventStatus.PUBLISHED
    await session.flush()
    return made


async def test_a_member_says_yes_and_checks_in_at_the_venue(member, session, settings) -> None:
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    phone = "+919840200001"
    await make_member(session, unit=unit, phone=phone, first_name="Nila")
    event = await an_event(session, settings, starts_in=timedelta(minutes=30))
    await session.commit()

    nila = member(Channel.WHATSAPP, phone)
    await nila.says("hi")
    listed = await nila.says("நிகழ்வு")
    assert "மாவட்டப் பேரணி" in listed
    shown = await nila.says("1")
    assert "Villupuram bus stand" in shown and "வருகிறேன்" in shown
    booked = await nila.says("1")  # yes
    assert "முன்பதிவு" in booked

    await nila.says("நிகழ்வு")
    await nila.says("1")
    asked = await nila.says("1")  # check in
    assert "இருப்பிட" in asked
    far = await nila.says(location=(11.9601, 79.4861))  # about 2.2 km north
    assert "2.2 கி.மீ" in far
    done = await nila.says(location=(VENUE.latitude, VENUE.longitude))
    assert "வருகை பதிவானது" in done
    row = await session.scalar(select(EventAttendee).where(EventAttendee.event_id == event.id))
    await session.refresh(row)
    assert row.status == "attended"


async def test_1000_simultaneous_yeses_for_100_places(client, bot, redis, session, settings):
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    event = await an_event(session, settings, starts_in=timedelta(days=1), capacity=100)
    # By SMS through Twilio (UK numbers: Indian SMS comes through the DLT provider), whose
    # replies all go in the webhook's answer: the test measures the places, not sends.
    phones = [f"+44770090{n:04d}" for n in range(1000)]
    ids = list(
        await session.scalars(
            text(
                "INSERT INTO members (first_name, phone, status, language)"
                " SELECT 'Member', p, 'active', 'ta' FROM unnest(CAST(:phones AS text[])) p"
                " RETURNING id"
            ),
            {"phones": phones},
        )
    )
    await session.execute(
        text(
            "INSERT INTO member_units (member_id, unit_id, is_primary)"
            " SELECT m, :unit, true FROM unnest(CAST(:ids AS uuid[])) m"
        ),
        {"ids": ids, "unit": unit.id},
    )
    await session.commit()
    # Each member has the event on screen (as after "நிகழ்வு", "1").
    store = bot.conversation.store
    conv = ConversationState("events", "event", {"event_id": str(event.id)}).to_json()
    await session.execute(
        text(conversations.PUT),
        [{"k": store.key(Channel.SMS, p), "state": conv, "at": datetime.now(UTC)} for p in phones],
    )
    await session.commit()

    url = bot.settings.public_base_url + "/webhooks/twilio"
    token = bot.settings.twilio_auth_token.get_secret_value()

    async def yes(phone: str) -> int:
        form = fake_twilio.inbound_form(phone, "1")
        headers = {"X-Twilio-Signature": fake_twilio.sign(token, url, form)}
        response = await client.post("/webhooks/twilio", data=form, headers=headers)
        return response.status

    statuses = await asyncio.gather(*(yes(p) for p in phones))
    assert set(statuses) == {200}
    rows = (
        await session.execute(
            text(
                "SELECT status::text, registered_at FROM event_attendees WHERE event_id = :e"
                " ORDER BY registered_at"
            ),
            {"e": event.id},
        )
    ).all()
    assert [r.status for r in rows] == ["registered"] * 100 + ["waitlisted"] * 900
    await bot.drain()


async def test_a_district_secretary_calls_a_rally_from_whatsapp_in_tamil(
    member, providers, session
) -> None:
    secretary = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    await secretary.says("hi")
    listed = await secretary.says("நிகழ்வு")
    assert "நிகழ்வை உருவாக்கு" in listed
    units = await secretary.says("1")
    assert "TN.VPM" in units and "TN.CHN" not in units
    refused = await secretary.says("TN.CHN")  # beside their own district
    assert "உங்கள் அலகுக்கு" in refused
    await secretary.says("1")  # Villupuram district
    await secretary.says("மாவட்டப் பேரணி")
    await secretary.says("பேரணி")
    past = await secretary.says("01/01/2020 10:00")
    assert "வரும் ஓராண்டுக்குள்" in past
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(events.INDIA)
    await secretary.says(f"{tomorrow:%d/%m/%Y} 17:30")
    await secretary.says("3")
    bengaluru = await secretary.says(location=(12.9716, 77.5946))
    assert "தமிழ்நாட்டில் இல்லை" in bengaluru
    await secretary.says(location=(VENUE.latitude, VENUE.longitude))
    await secretary.says("பேருந்து நிலையம்")
    asked = await secretary.says("500")
    assert "SMS" in asked
    code = re.search(r"\b(\d{6})\b", providers.sms_to(VILLUPURAM_SECRETARY)[-1]).group(1)
    summary = await secretary.says(code)
    assert "மாவட்டப் பேரணி" in summary and "500" in summary and "பேருந்து நிலையம்" in summary
    done = await secretary.says("1")  # publish
    assert "வெளியிடப்பட்டது" in done
    again = await secretary.says("1")  # a double tap: nothing more
    assert "வெளியிடப்பட்டது" not in again

    made = (await session.scalars(select(Event).where(Event.title_ta == "மாவட்டப் பேரணி"))).all()
    assert len(made) == 1
    event = made[0]
    assert event.status == "published" and event.max_attendees == 500
    invitation = await session.get(Announcement, event.announcement_id)
    assert invitation is not None and "வருவீர்களா?" in invitation.content_ta
    assert invitation.template_name == "event_invitation"  # its answers, by SMS too

    # A member of a booth in the district sees it and says yes.
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    await make_member(session, unit=unit, phone="+919840200002")
    await session.commit()
    nila = member(Channel.WHATSAPP, "+919840200002")
    await nila.says("hi")
    assert "மாவட்டப் பேரணி" in await nila.says("நிகழ்வு")
    await nila.says("1")
    assert "முன்பதிவு" in await nila.says("ஆம்")


async def test_a_freed_place_goes_at_once_to_the_first_waiting_member(
    member, providers, session, settings
) -> None:
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    first = await make_member(session, unit=unit, phone="+919840200011")
    waiting = await make_member(session, unit=unit, phone="+919840200012")
    event = await an_event(session, settings, starts_in=timedelta(days=1), capacity=1)
    now = datetime.now(UTC)
    for who in (first, waiting):
        await attendance.yes(session, event.id, who.id, now=now, settings=settings)
    await session.commit()

    kumar = member(Channel.WHATSAPP, "+919840200011")
    await kumar.says("hi")
    await kumar.says("நிகழ்வு")
    shown = await kumar.says("1")
    assert "உங்களுக்கு இடம் உள்ளது" in shown
    gave_up = await kumar.says("2")  # cancel my place
    assert "ரத்து செய்யப்பட்டது" in gave_up
    told = providers.sms_to("+919840200012")  # no chat address: an SMS to their phone
    assert len(told) == 1 and "காலியாக" in told[0] and "30" in told[0]

    meena = member(Channel.WHATSAPP, "+919840200012")
    await meena.says("hi")
    await meena.says("நிகழ்வு")
    assert "காத்திருப்புப் பட்டியலில்" in await meena.says("1")
    assert "முன்பதிவு" in await meena.says("1")  # yes: the offered place


async def test_check_in_on_whatsapp_needs_the_venue_code_its_officials_see(
    member, session, settings
) -> None:
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    nila = await make_member(session, unit=unit, phone="+919840200021")
    event = await an_event(
        session, settings, starts_in=timedelta(minutes=20), venue_code_required=True
    )
    await attendance.yes(session, event.id, nila.id, now=datetime.now(UTC), settings=settings)
    await session.commit()

    secretary = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    await secretary.says("hi")
    listed = await secretary.says("நிகழ்வு")
    assert "நிகழ்வை உருவாக்கு" in listed and "மாவட்டப் பேரணி" in listed
    screen = await secretary.says("2")
    assert "நேரடி எண்ணிக்கை" in screen and "இடக் குறியீடு" in screen
    shown = await secretary.says("4")  # venue code
    code = events.venue_code(settings, event.id, datetime.now(UTC))
    assert code in shown

    m = member(Channel.WHATSAPP, "+919840200021")
    await m.says("hi")
    await m.says("நிகழ்வு")
    await m.says("1")
    asked = await m.says("1")  # check in
    assert "4 இலக்க" in asked
    wrong = await m.says(f"{(int(code) + 1) % 10000:04d}")
    assert "குறியீடு அல்ல" in wrong
    assert "இருப்பிட" in await m.says(code)
    assert "வருகை பதிவானது" in await m.says(location=(VENUE.latitude, VENUE.longitude))

    await secretary.says("நிகழ்வு")
    await secretary.says("2")
    live = await secretary.says("3")  # live count
    assert "வந்தவர்கள் 1" in live


async def test_telegram_check_in_refuses_forwarded_and_old_locations_and_widens_by_accuracy(
    member, providers, session, settings
) -> None:
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    nila = await make_member(session, unit=unit, phone="+919840200031")
    chat = 555000901
    now = datetime.now(UTC)
    await session.execute(
        text(
            "INSERT INTO channel_addresses (channel, address, phone, member_id, language,"
            " consent_given_at, created_at, updated_at)"
            " VALUES ('telegram', :chat, :phone, :m, 'ta', :now, :now, :now)"
        ),
        {"chat": str(chat), "phone": nila.phone, "m": nila.id, "now": now},
    )
    event = await an_event(session, settings, starts_in=timedelta(minutes=20), radius_m=100)
    await attendance.yes(session, event.id, nila.id, now=now, settings=settings)
    await session.commit()

    m = member(Channel.TELEGRAM, str(chat))
    await m.says("hi")
    await m.says("நிகழ்வு")
    await m.says("1")
    asked = await m.says("1")  # check in
    assert "இருப்பிட" in asked and m.last["reply_markup"]["keyboard"][0][0]["request_location"]

    serial = iter(range(90_000, 90_100))

    async def share(latitude: float, longitude: float, **extra) -> str:
        place = {"latitude": latitude, "longitude": longitude}
        if "accuracy" in extra:
            place["horizontal_accuracy"] = extra.pop("accuracy")
        update = fake_telegram.message_update(next(serial), chat, location=place, **extra)
        response = await m.post_telegram(update)
        assert response.status == 200
        return str(providers.telegram.sent[-1]["text"])

    forwarded = await share(
        VENUE.latitude, VENUE.longitude,
        forward_origin={"type": "user", "date": int(time.time()),
                        "sender_user": {"id": 77, "is_bot": False, "first_name": "Other"}},
    )  # fmt: skip
    assert "முன்னனுப்பிய" in forwarded
    old = await share(VENUE.latitude, VENUE.longitude, date=int(time.time()) - 300)
    assert "பழையது" in old
    # About 155 m away: outside 100 m, inside 100 m + the reported 100 m accuracy.
    assert "தொலைவில்" in await share(11.9415, 79.4861)
    assert "வருகை பதிவானது" in await share(11.9415, 79.4861, accuracy=100)


async def test_an_official_moves_then_cancels_an_event_and_those_coming_are_told(
    member, providers, session, settings
) -> None:
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    coming = await make_member(session, unit=unit, phone="+919840200041")
    event = await an_event(session, settings, starts_in=timedelta(days=2))
    await attendance.yes(session, event.id, coming.id, now=datetime.now(UTC), settings=settings)
    await session.commit()

    secretary = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    await secretary.says("hi")
    await secretary.says("நிகழ்வு")
    await secretary.says("2")
    asked = await secretary.says("6")  # move the event: a fresh SMS code first
    assert "SMS" in asked
    code = re.search(r"\b(\d{6})\b", providers.sms_to(VILLUPURAM_SECRETARY)[-1]).group(1)
    assert "புதிய தொடக்க" in await secretary.says(code)
    later = (datetime.now(UTC) + timedelta(days=3)).astimezone(events.INDIA)
    moved = await secretary.says(f"{later:%d/%m/%Y} 18:00")
    assert "1 உறுப்பினர்" in moved
    told = providers.sms_to("+919840200041")
    assert len(told) == 1 and "மாற்றப்பட்டது" in told[0]

    await secretary.says("நிகழ்வு")
    await secretary.says("2")
    confirm = await secretary.says("5")  # cancel the event (the code is still fresh)
    assert "ரத்து செய்யவா" in confirm
    cancelled = await secretary.says("1")
    assert "1 உறுப்பினர்" in cancelled
    told = providers.sms_to("+919840200041")
    assert len(told) == 2 and "ரத்து" in told[1]
    await session.refresh(event)
    assert event.status == "cancelled"


async def test_a_booth_agent_checks_in_walk_ins_by_membership_number(
    member, session, settings
) -> None:
    unit = await events.officials.unit_by_code(session, TOWN_BOOTH)
    await make_official(session, unit=unit, permissions=("view_reports",), phone="+919840200051")
    await make_member(
        session, unit=unit, phone="+919840200052", first_name="Selvi",
        membership_number="VCK-VPM-0009001",
    )  # fmt: skip
    event = await an_event(session, settings, starts_in=timedelta(minutes=30))
    await session.commit()

    agent = member(Channel.WHATSAPP, "+919840200051")
    await agent.says("hi")
    await agent.says("நிகழ்வு")
    screen = await agent.says("1")
    assert "உறுப்பினர் வருகை" in screen
    asked = await agent.says("3")  # check in a member (after Yes and No)
    assert "உறுப்பினர் எண்" in asked
    unknown = await agent.says("VCK-VPM-0000000")
    assert "இல்லை" in unknown
    done = await agent.says("vck-vpm-0009001")
    assert "Selvi" in done and "பதிவானது" in done
    again = await agent.says("VCK-VPM-0009001")
    assert "ஏற்கெனவே" in again
    row = await session.scalar(select(EventAttendee).where(EventAttendee.event_id == event.id))
    await session.refresh(row)
    assert row.status == "attended" and row.check_in_method == "agent"
