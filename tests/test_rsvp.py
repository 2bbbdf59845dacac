"""Members answer an event's invitation from the invitation itself (bot/rsvp.py): a
Telegram button, a WhatsApp quick reply (inside the window, or the approved template's
outside it), or a yes or no typed by SMS or anywhere with no question pending. The
invitation goes out through the real fan-out and senders; the answers come back through
the real webhooks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.rsvp import yes_or_no
from core import jobs as queue_jobs
from core.announcements import Invitation, fill_dlt_template
from core.channels.base import Channel
from core.channels.sms_text import segments
from core.models.events import EventType
from core.services import attendance, events
from fakes import telegram as fake_telegram
from notifier import jobs
from notifier.bootstrap import NotifierOptions, build
from tests.factories import make_member
from tests.memory_queue import MemoryQueue

BOOTH = "TN.VPM.AC074.B0001"  # a demo booth of Villupuram
VENUE = events.Venue(11.9401, 79.4861, "Villupuram bus stand")
INVITATION_DLT = {"1107000000000000012", "1107000000000000013"}  # migration 0016


async def invite(session, settings, *, starts_in=timedelta(days=1), **kw) -> events.Event:
    """An event of the booth, published and its invitations sent by the notifier."""
    now = datetime.now(UTC)
    event = await events.create(
        session, official_member_id=None, unit_code=BOOTH, title="Booth meeting",
        title_ta="கிளைக் கூட்டம்", type=EventType.MEETING, start=now + starts_in,
        venue=VENUE, now=now, settings=settings, **kw,
    )  # fmt: skip
    assert not isinstance(event, events.Refused), event
    made = await events.publish(session, event, now=now, settings=settings)
    assert isinstance(made, events.announcements.Created), made
    await session.commit()
    deps = build(settings, MemoryQueue(), options=NotifierOptions(backoff_base_seconds=0.05))
    try:
        await jobs.publish_announcement(deps, str(made.announcement_id))
        for function, args in list(deps.queue.jobs.values()):
            if function == queue_jobs.SEND_BATCH:
                while isinstance(await jobs.send_batch(deps, *args), jobs.Again):
                    pass
    finally:
        await deps.close()
    return event


async def add_address(session, member, channel: Channel, address: str, *, wrote_ago=None):
    now = datetime.now(UTC)
    await session.execute(
        text(
            "INSERT INTO channel_addresses (channel, address, phone, member_id, language,"
            " consent_given_at, last_inbound_at, created_at, updated_at)"
            " VALUES (:channel, :address, :phone, :m, 'ta', :now, :wrote, :now, :now)"
        ),
        {"channel": channel.value, "address": address, "phone": member.phone, "m": member.id,
         "now": now, "wrote": now - wrote_ago if wrote_ago is not None else None},
    )  # fmt: skip


async def booth_member(
    session, phone: str, channel: Channel | None = None, address: str | None = None, **kw
):
    """A member of the booth, committed; with an address on ``channel`` (``address``,
    else the phone; ``wrote_ago`` as :func:`add_address`), else reached by SMS only."""
    unit = await events.officials.unit_by_code(session, BOOTH)
    someone = await make_member(session, unit=unit, phone=phone)
    if channel is not None:
        await add_address(session, someone, channel, address or phone, **kw)
    await session.commit()
    return someone


async def attendees(session, event) -> list[tuple[str, str | None]]:
    rows = await session.execute(
        text("SELECT status::text, notes FROM event_attendees WHERE event_id = :e"),
        {"e": event.id},
    )
    return [tuple(r) for r in rows]


async def allow_invitation_sms(session, providers) -> None:
    """The invitation's DLT templates, registered with their text: the fake refuses an
    SMS that is not its template's text filled in."""
    rows = await session.execute(
        text("SELECT dlt_template_id, body FROM message_templates WHERE name = 'event_invitation'")
    )
    found = {template_id: body for template_id, body in rows}
    assert set(found) == INVITATION_DLT
    providers.dlt.templates.update(found)


async def test_a_telegram_member_taps_ill_come_and_a_second_tap_books_nothing_more(
    member, providers, bot_settings, session
) -> None:
    await booth_member(session, "+919840300001", Channel.TELEGRAM, "555000301")
    event = await invite(session, bot_settings, capacity=50)

    sent = [m for m in providers.telegram.sent if str(m["chat_id"]) == "555000301"]
    assert len(sent) == 1
    invitation = sent[0]
    assert "கிளைக் கூட்டம்" in invitation["text"] and "வருவீர்களா?" in invitation["text"]
    buttons = [row[0] for row in invitation["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons] == ["1. வருவேன்", "2. வர இயலாது"]
    assert buttons[0]["callback_data"] == f"rsvp:{event.id.hex}:y"
    assert len(buttons[0]["callback_data"].encode()) <= 64

    m = member(Channel.TELEGRAM, "555000301")
    m.last = invitation  # the press names the invitation's message, not a reply's
    booked = await m.says(button=buttons[0]["callback_data"])
    assert "முன்பதிவு" in booked
    again = await m.says(button=buttons[0]["callback_data"])  # a double tap
    assert "ஏற்கெனவே" in again
    assert await attendees(session, event) == [("registered", None)]


async def test_a_tap_in_the_middle_of_a_question_answers_and_asks_the_question_again(
    member, providers, bot_settings, session
) -> None:
    await booth_member(session, "+919840300002", Channel.TELEGRAM, "555000302")
    event = await invite(session, bot_settings)

    m = member(Channel.TELEGRAM, "555000302")
    await m.says("hi")
    asked = await m.says("மொழி")  # "Which language?" is pending
    declined = await m.says(button=f"rsvp:{event.id.hex}:n")
    assert "தெரிவித்ததற்கு நன்றி" in declined and asked.splitlines()[0] in declined
    assert await attendees(session, event) == [("cancelled", "declined")]
    assert "English" in await m.says("2")  # the language question still takes its answer


async def test_a_whatsapp_member_in_the_window_gets_quick_replies_and_answers_aam(
    member, providers, bot_settings, session
) -> None:
    await booth_member(session, "+919840300003", Channel.WHATSAPP, wrote_ago=timedelta(0))
    event = await invite(session, bot_settings)

    sent = [m for m in providers.twilio.sent if m.get("To") == "whatsapp:+919840300003"]
    assert len(sent) == 1 and sent[0].get("ContentSid")
    body = json.loads(sent[0]["ContentVariables"])["1"]
    assert "வருவீர்களா?" in body and "1. வருவேன்" in body  # the numbers stay in the text
    content = next(c for c in providers.twilio.contents if c["sid"] == sent[0]["ContentSid"])
    actions = content["types"]["twilio/quick-reply"]["actions"]
    assert [a["id"] for a in actions] == ["rsvp:y", "rsvp:n"]

    m = member(Channel.WHATSAPP, "+919840300003")
    booked = await m.says("ஆம்")  # no conversation: the answer to the invitation
    assert "முன்பதிவு" in booked
    assert await attendees(session, event) == [("registered", None)]


async def test_outside_the_window_the_template_button_finds_its_event_by_the_message(
    member, providers, bot_settings, session
) -> None:
    days_ago = timedelta(days=3)  # the window is closed: the template goes
    await booth_member(session, "+919840300004", Channel.WHATSAPP, wrote_ago=days_ago)
    first = await invite(session, bot_settings, starts_in=timedelta(days=2))
    second = await invite(session, bot_settings, starts_in=timedelta(days=3))

    sent = [m for m in providers.twilio.sent if m.get("To") == "whatsapp:+919840300004"]
    assert [m["ContentSid"] for m in sent] == ["HX00000000000000000000000000000007"] * 2
    variables = json.loads(sent[0]["ContentVariables"])
    assert variables["1"] == "கிளைக் கூட்டம்" and variables["3"] == "Villupuram bus stand"

    m = member(Channel.WHATSAPP, "+919840300004")
    m.last = sent[0]  # the tap is on the first invitation, not the latest
    said = await m.says("வர இயலாது", button="rsvp:n")
    assert "தெரிவித்ததற்கு நன்றி" in said
    assert await attendees(session, first) == [("cancelled", "declined")]
    assert await attendees(session, second) == []


async def test_an_sms_member_replies_2_and_is_counted_out(
    member, providers, bot_settings, session
) -> None:
    await allow_invitation_sms(session, providers)
    await booth_member(session, "+919840300005")  # no chat app: SMS
    event = await invite(session, bot_settings)

    sms = providers.sms_to("+919840300005")
    assert len(sms) == 1
    assert sms[0].startswith("விசிக நிகழ்வு: கிளைக் கூட்டம், ")
    assert sms[0].endswith("\nவருவீர்களா? 1 = வருவேன், 2 = இல்லை")
    assert segments(sms[0]).parts <= 2

    m = member(Channel.SMS, "+919840300005")
    assert "தெரிவித்ததற்கு நன்றி" in await m.says("2")
    assert await attendees(session, event) == [("cancelled", "declined")]
    # Answered: a second "2" is not an answer to it any more, it goes on as any message.
    assert "தெரிவித்ததற்கு" not in await m.says("2")


async def test_a_reply_after_the_deadline_is_told_registration_has_closed(
    member, providers, bot_settings, session
) -> None:
    await allow_invitation_sms(session, providers)
    await booth_member(session, "+919840300006")
    event = await invite(session, bot_settings, deadline=datetime.now(UTC) + timedelta(hours=1))
    await session.execute(
        text("UPDATE events SET registration_deadline = :t WHERE id = :e"),
        {"t": datetime.now(UTC) - timedelta(minutes=1), "e": event.id},
    )
    await session.commit()

    m = member(Channel.SMS, "+919840300006")
    assert "பதிவு முடிந்துவிட்டது" in await m.says("1")
    assert await attendees(session, event) == []


async def test_without_an_invitation_1_is_the_menu_as_before(member, session) -> None:
    await booth_member(session, "+919840300007")
    m = member(Channel.WHATSAPP, "+919840300007")
    menu = await m.says("1")  # no conversation, no invitation: the menu
    assert "என்ன செய்ய விரும்புகிறீர்கள்" in menu
    assert "முன்பதிவு" not in menu


async def test_in_the_middle_of_a_question_1_answers_that_question(
    member, providers, bot_settings, session
) -> None:
    await booth_member(session, "+919840300008", Channel.WHATSAPP, wrote_ago=timedelta(0))
    m = member(Channel.WHATSAPP, "+919840300008")
    await m.says("மொழி")  # "Which language?" is pending
    event = await invite(session, bot_settings)
    chosen = await m.says("1")  # தமிழ்: the pending question's answer
    assert "முன்பதிவு" not in chosen
    assert await attendees(session, event) == []


async def test_at_the_menu_a_number_is_the_invitations_only_if_it_came_after_the_menu(
    member, providers, bot_settings, session
) -> None:
    await booth_member(session, "+919840300009", Channel.WHATSAPP, wrote_ago=timedelta(0))
    event = await invite(session, bot_settings)

    m = member(Channel.WHATSAPP, "+919840300009")
    await m.says("வணக்கம்")  # the menu, shown after the invitation
    membership = await m.says("1")  # My membership: the menu's 1
    assert "முன்பதிவு" not in membership
    assert await attendees(session, event) == []
    assert "முன்பதிவு" in await m.says("வருவேன்")  # a word is not the menu's

    later = await invite(session, bot_settings, starts_in=timedelta(days=2))  # after the menu
    assert "முன்பதிவு" in await m.says("1")
    assert await attendees(session, later) == [("registered", None)]


async def test_a_tap_on_an_unknown_or_malformed_invitation_is_answered_calmly(
    member, session
) -> None:
    await booth_member(session, "+919840300010", Channel.TELEGRAM, "555000310")
    m = member(Channel.TELEGRAM, "555000310")
    gone = await m.says(button=f"rsvp:{'0' * 32}:y")
    assert "பட்டியலில் இல்லை" in gone
    for payload in ("rsvp:", "rsvp:xyz:y", f"rsvp:{'g' * 32}:y", "rsvp:y:maybe"):
        update = fake_telegram.callback_update(9_100 + len(payload), 555000310, payload)
        assert (await m.post_telegram(update)).status == 200


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("1", (True, True)), ("௨", (False, True)), (" 2. ", (False, True)),
        ("ஆம்", (True, False)), ("ஆமா", (True, False)), ("வருவேன்", (True, False)),
        ("வரேன்", (True, False)), ("YES", (True, False)), ("y", (True, False)),
        ("I'll come", (True, False)), ("I’ll come", (True, False)),
        ("இல்லை", (False, False)), ("வரல", (False, False)), ("வர முடியாது", (False, False)),
        ("No", (False, False)), ("n", (False, False)), ("Can't come", (False, False)),
        ("வர இயலாது", (False, False)),
        ("3", None), ("ok", None), ("hello", None), ("", None), ("1 2", None),
    ],
)  # fmt: skip
def test_the_yes_and_no_members_type(typed: str, meant: tuple[bool, bool] | None) -> None:
    assert yes_or_no(typed) == meant


def test_an_invitations_sms_keeps_its_time_and_fits_two_parts() -> None:
    invitation = Invitation(uuid.uuid4(), datetime(2027, 8, 15, 12, 0, tzinfo=UTC), "Bus stand")
    value = invitation.sms_value("விழுப்புரம் மாவட்ட " * 10, 60)  # a title far too long
    assert value.endswith("…, 15/08 17:30") and len(value) <= 60
    body = "விசிக நிகழ்வு: {#var#}{#var#}\nவருவீர்களா? 1 = வருவேன், 2 = இல்லை"  # migration 0016
    assert segments(fill_dlt_template(body, value)).parts == 2


async def test_a_freed_place_offered_is_taken_by_replying_1(
    member, providers, bot_settings, session
) -> None:
    first, second = [
        await booth_member(session, phone, Channel.WHATSAPP, wrote_ago=timedelta(0))
        for phone in ("+919840300011", "+919840300012")
    ]
    event = await invite(session, bot_settings, capacity=1)
    assert "முன்பதிவு" in await member(Channel.WHATSAPP, first.phone).says("ஆம்")
    waiting = member(Channel.WHATSAPP, second.phone)
    assert "காத்திருப்பு" in await waiting.says("ஆம்")

    # The first gives the place up (from the events menu): it is offered to the second,
    # whose notice asks for a 1 (attendance.OFFER_NOTICE).
    await attendance.no(session, event.id, first.id, now=datetime.now(UTC), settings=bot_settings)
    await session.commit()
    notice = await session.scalar(text("SELECT payload->>'text' FROM outbox ORDER BY id DESC"))
    assert "1 என்று" in notice
    assert "முன்பதிவு" in await waiting.says("1")
    assert sorted(await attendees(session, event)) == [
        ("cancelled", "gave up"),
        ("registered", None),
    ]
