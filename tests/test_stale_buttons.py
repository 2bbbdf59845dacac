"""Buttons are bound to the message they were shown with (security review L3): a press
on an earlier screen's button does nothing but re-ask the current question."""

from __future__ import annotations

from core.channels.base import Channel
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio


async def test_the_same_button_on_an_earlier_copy_of_the_question_does_nothing(
    member, providers
) -> None:
    """The case that matters: the stale button's id is valid for the current question
    too (two "Verify" screens, or two menus), so only the message it was on tells."""
    m = member(Channel.TELEGRAM, "8080809")
    await m.says("/start")
    await m.says(button="en")
    await m.says(button="agree")
    first_menu = m.last["message_id"]
    assert "What would you like to do" in await m.says(button="help")  # help, then the menu
    assert m.last["message_id"] != first_menu

    stale = fake_telegram.callback_update(90002, 8080809, "privacy", message_id=first_menu)
    assert (await m.post_telegram(stale)).status == 200
    said = [s for s in providers.telegram.sent if s.get("method") == "sendMessage"][-1]
    assert "delete your details" not in said["text"]
    assert "What would you like to do" in said["text"]
    m.last = said
    assert "delete your details" in await m.says(button="privacy")  # the current menu's


async def test_an_old_whatsapp_quick_reply_re_asks_instead_of_acting(member, providers) -> None:
    phone = "+919840055501"
    m = member(Channel.WHATSAPP, phone)
    assert "Choose your language" in await m.says("hi")
    first_question = m.last["sid"]
    assert "Privacy notice" in await m.says("English", button="en")
    assert "Choose your language" in await m.says("language")  # the same question again
    assert m.last["sid"] != first_question

    stale = fake_twilio.inbound_form(
        f"whatsapp:{phone}", "தமிழ்", button_payload="ta", replied_to=first_question
    )
    assert (await m.post_twilio(stale)).status == 200
    await m.bot.drain()
    last = [s for s in providers.twilio.sent if s.get("To") == f"whatsapp:{phone}"][-1]
    assert "Choose your language" in str(last) and "தனியுரிமை" not in str(last)
