"""The same flows on Telegram (contact + SMS code), feature-phone SMS through the Indian
DLT provider, and the console."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot.engine import Engine
from bot.outbox import RecordingOutbox
from core.channels.base import Channel
from core.channels.console import parse_console_line
from core.channels.sms_text import segments
from core.models import ChannelAddress, Member
from fakes.dlt import template_pattern

NUMBER = re.compile(r"VCK-[A-Z]{3}-\d{7}")
CODE = re.compile(r"\b(\d{6})\b")


async def test_telegram_member_links_their_phone_then_signs_up(member, providers, session) -> None:
    m = member(Channel.TELEGRAM, "555000111")
    assert "Choose your language" in await m.says("/start")
    assert "Privacy notice" in await m.says(button="en")
    menu = await m.says(button="agree")
    assert "Link my phone number" in menu
    assert "inline_keyboard" in str(m.last["reply_markup"])  # choices as native buttons

    ask = await m.says(button="join")
    assert "confirm your phone number" in ask
    assert "request_contact" in str(m.last["reply_markup"])

    # Someone else's contact card is refused.
    refused = await m.says(contact="+919840066666", contact_user_id=999)
    assert "your own contact" in refused

    sent = await m.says(contact="+919840066666")
    assert "+91******6666" in sent  # masked number
    sms = providers.sms_to("+919840066666")
    assert len(sms) == 1 and providers.dlt.sent[-1]["DltTemplateId"]  # via the DLT provider
    code = CODE.search(sms[0]).group(1)

    assert "not right" in await m.says("000000" if code != "000000" else "111111")
    assert "full name" in await m.says(code)
    for text in ("Arul Mozhi", "03/03/1993", "2", "1", "600001", "skip", "skip"):
        await m.says(text)
    assert NUMBER.search(await m.says("1"))

    address = await session.scalar(
        select(ChannelAddress).where(
            ChannelAddress.channel == "telegram", ChannelAddress.address == "555000111"
        )
    )
    assert address.phone == "+919840066666" and address.member_id is not None


async def test_telegram_chat_of_an_existing_member_links_to_their_membership(
    member, providers
) -> None:
    m = member(Channel.TELEGRAM, "555000222")
    await m.says("hi")
    await m.says("1")
    await m.says("1")
    await m.says("1")  # Link my phone number
    await m.says("+1 202 555 0112")  # Karthik, a demo member, typed instead of shared
    code = CODE.search(providers.sms_to("+12025550112")[-1]).group(1)
    linked = await m.says(code)
    assert "இணைக்கப்பட்டது" in linked  # Karthik's language is Tamil
    card = await m.says("1")
    assert "VCK-CHN-0000006" in card


async def test_an_unknown_and_a_known_number_get_the_same_answer(member) -> None:
    answers = []
    for chat, phone in (("555000301", "+919840077777"), ("555000302", "+12025550113")):
        m = member(Channel.TELEGRAM, chat)
        for text in ("hi", "2", "1", "1"):
            await m.says(text)
        answers.append(re.sub(r"\+\d\S+", "N", await m.says(phone)))
    assert answers[0] == answers[1]


async def test_a_feature_phone_member_signs_up_by_sms_through_the_dlt_provider(
    member, providers, session
) -> None:
    m = member(Channel.SMS, "+919840088888")
    assert "Choose your language" in await m.says("VCK")
    assert "தனியுரிமை" in await m.says("1")
    await m.says("1")
    for text in ("1", "முத்து வேல்", "10/10/1970", "1", "1", "605602", "தவிர்", "தவிர்"):
        await m.says(text)
    welcome = await m.says("1")
    assert NUMBER.search(welcome)
    last = providers.dlt.sent[-1]
    assert last["EncodingType"] == "unicode" and last["DltEntityId"] and last["From"]
    assert not [s for s in providers.twilio.sent if s.get("To") == "+919840088888"]
    assert await session.scalar(select(Member).where(Member.phone == "+919840088888"))


async def test_a_tamil_sms_signup_costs_at_most_16_sms_parts(member, providers) -> None:
    # Every part is paid for, by the party and on a feature phone's patience: from the
    # first message to the membership number, through the DLT provider's webhook. (16
    # since the menu's fifth item, புகார், pushed the last reply to a third part.)
    phone = "+919840088889"
    m = member(Channel.SMS, phone)
    assert "மொழி" in await m.says("வணக்கம்")
    assert "'தனியுரிமை'" in await m.says("1")  # the short notice, and how to get the full
    assert "சேமித்து வைக்கும்" in await m.says("தனியுரிமை")  # the full notice
    for text in ("ஆமா", "1", "முத்து வேல்", "10/10/1970", "1", "605602", "இல்லை", "இல்லை"):
        await m.says(text)
    assert NUMBER.search(await m.says("1"))
    sent = [s["Body"] for s in providers.dlt.sent if s.get("To") == phone]
    full_notice = sent.pop(2)  # asked for: not part of the signup's cost
    assert segments(full_notice).parts > 3
    parts = [segments(body).parts for body in sent]
    assert sum(parts) <= 16, list(zip(parts, sent, strict=True))
    # The help by SMS is the keywords alone, in both scripts (six parts with the menu before).
    help_reply = await m.says("உதவி")
    assert "'ரத்து'" in help_reply and "CANCEL" in help_reply
    assert segments(help_reply).parts <= 4


async def test_a_tamil_sms_signup_sends_only_registered_dlt_templates(member, providers) -> None:
    # Each SMS goes under the id of its own template (a sentence, or the combination of a
    # question and its choices) and is that template's text with the slots filled: what
    # DLT scrubbing checks. The fake refuses anything else, so this also fails on a
    # sentence without a template.
    phone = "+919840088887"
    m = member(Channel.SMS, phone)
    for text in ("வணக்கம்", "1", "தனியுரிமை", "ஆமா", "1", "முத்து வேல்", "நேற்று", "10/10/1970"):
        await m.says(text)
    # A wrong answer and HELP re-ask the question after what they say: one SMS each.
    for text in ("உதவி", "7", "1", "605602", "இல்லை", "இல்லை", "1", "உதவி"):
        await m.says(text)
    sent = [s for s in providers.dlt.sent if s.get("To") == phone]
    assert len(sent) == 16
    ids = {s["DltTemplateId"] for s in sent}
    assert len(ids) >= 10  # not one template for everything
    for message in sent:
        template = providers.dlt.templates[message["DltTemplateId"]]
        assert template is not None and "{#var#}" not in message["Body"]
        assert template_pattern(template).match(message["Body"]), message["Body"]


async def test_the_console_runs_the_same_flows(settings, engine, redis) -> None:
    bot_engine = Engine(settings, engine, redis, RecordingOutbox())
    counter = iter(range(1, 100))

    async def say(line: str) -> str:
        message = parse_console_line(
            "+919840099999", line, received_at=datetime.now(UTC), counter=next(counter)
        )
        return "\n".join(r.as_plain_text() for r in await bot_engine.handle(message))

    assert "Choose your language" in await say("hello")
    await say("2")
    await say("1")
    for line in ("1", "Console Person", "01/01/1990", "4", "2"):
        await say(line)
    assert "voter ID" in await say("/location 13.0827 80.2707")  # Chennai
    await say("skip")
    await say("skip")
    assert NUMBER.search(await say("1"))


async def test_stop_and_start_by_sms_go_under_their_templates(member, providers) -> None:
    phone = "+919840088886"
    m = member(Channel.SMS, phone)
    for text in ("வணக்கம்", "1", "ஆமா", "STOP", "START", "xyz", "ரத்து"):
        await m.says(text)
    sent = [s for s in providers.dlt.sent if s.get("To") == phone]
    assert len(sent) == 7
    for message in sent:
        template = providers.dlt.templates[message["DltTemplateId"]]
        assert template is not None and template_pattern(template).match(message["Body"])
