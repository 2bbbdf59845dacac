"""Words that work anywhere (HELP, MENU/0, STOP, START, LANGUAGE, CANCEL — and their
Tamil forms), the idle timeout, and odd input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy import text as sql

from core.channels.base import Channel
from core.models import ChannelAddress, Member
from fakes import twilio as fake_twilio

PRIYA = "+12025550111"  # demo member, English
KARTHIK = "+12025550112"  # demo member, Tamil


async def address_row(session, channel: str, address: str) -> ChannelAddress:
    session.expire_all()
    return await session.scalar(
        select(ChannelAddress).where(
            ChannelAddress.channel == channel, ChannelAddress.address == address
        )
    )


async def test_stop_and_start_are_stored_at_once(member, session) -> None:
    m = member(Channel.WHATSAPP, PRIYA)
    assert "START" in await m.says("STOP")
    assert (await address_row(session, "whatsapp", PRIYA)).opted_out_at is not None
    assert "again" in await m.says("start")
    assert (await address_row(session, "whatsapp", PRIYA)).opted_out_at is None


async def test_tamil_stop_word_works_too(member, session) -> None:
    m = member(Channel.WHATSAPP, KARTHIK)
    assert "தொடங்கு" in await m.says("நிறுத்து")
    assert (await address_row(session, "whatsapp", KARTHIK)).opted_out_at is not None


async def test_stop_from_a_stranger_is_honoured_before_any_consent(member, session) -> None:
    m = member(Channel.SMS, "+14155550123")
    await m.says("STOP")
    row = await address_row(session, "sms", "+14155550123")
    assert row.opted_out_at is not None and row.consent_given_at is None


async def test_help_re_asks_the_current_question(member) -> None:
    m = member(Channel.WHATSAPP, "+919840200001")
    for text in ("hi", "2", "1", "1"):
        await m.says(text)
    reply = await m.says("உதவி")
    assert "MENU or 0" in reply and reply.rstrip().endswith("in English.")


async def test_menu_and_cancel_leave_a_flow_without_saving(member, session) -> None:
    m = member(Channel.WHATSAPP, "+919840200002")
    for text in ("hi", "2", "1", "1", "Half Done"):
        await m.says(text)
    reply = await m.says("0")
    assert "Nothing was saved" in reply and "What would you like to do" in reply
    await m.says("1")
    assert "Nothing was saved" in await m.says("ரத்து")
    assert await session.scalar(select(Member).where(Member.phone == "+919840200002")) is None


async def test_language_can_be_changed_anytime_and_is_stored_on_the_member(member, session) -> None:
    m = member(Channel.WHATSAPP, PRIYA)
    await m.says("hi")
    assert "Choose your language" in await m.says("மொழி")
    assert "தமிழில்" in await m.says("1")
    assert "என் உறுப்பினர் விவரம்" in await m.says("menu")
    session.expire_all()
    row = await session.scalar(select(Member).where(Member.phone == PRIYA))
    assert row.language == "ta"


async def test_after_the_idle_timeout_the_member_starts_at_the_menu_and_is_told(
    member, bot, session
) -> None:
    m = member(Channel.WHATSAPP, "+919840200003")
    for said in ("hi", "2", "1", "1", "Slow Typer"):
        await m.says(said)
    idle = timedelta(minutes=bot.settings.conversation_idle_minutes, seconds=5)
    await session.execute(
        sql("UPDATE conversation_states SET updated_at = :at WHERE key = :k"),
        {
            "k": bot.conversation.store.key(Channel.WHATSAPP, m.address),
            "at": datetime.now(UTC) - idle,
        },
    )
    await session.commit()
    reply = await m.says("01/01/1990")
    assert "started again" in reply and "What would you like to do" in reply


async def test_odd_text_gets_a_polite_re_prompt(member) -> None:
    m = member(Channel.WHATSAPP, PRIYA)
    await m.says("hi")
    for odd in ("🙏🎉", "Vanakkam நண்பா", "x" * 5000, "1; DELETE FROM members;", "\u200b\u200b"):
        reply = await m.says(odd)
        assert "did not understand" in reply and "What would you like to do" in reply


# --- Twilio SMS: the provider's own opt-out keywords ----------------------------------

ABROAD = "+14155550177"  # an SMS number outside India: Twilio SMS, not the DLT provider


async def test_cancel_by_twilio_sms_counts_as_stop_because_twilio_blocked_the_number(
    member, session
) -> None:
    m = member(Channel.SMS, ABROAD)
    for text in ("hi", "2", "1"):  # English, I agree
        await m.says(text)
    await m.says("1")  # into a flow
    assert "START" in await m.says("CANCEL")
    assert (await address_row(session, "sms", ABROAD)).opted_out_at is not None


async def test_cancel_on_whatsapp_only_leaves_the_flow(member, session) -> None:
    m = member(Channel.WHATSAPP, "+919840200004")
    for text in ("hi", "2", "1", "1"):
        await m.says(text)
    assert "Nothing was saved" in await m.says("CANCEL")
    assert (await address_row(session, "whatsapp", "+919840200004")).opted_out_at is None


async def test_twilio_advanced_opt_out_types_are_honoured(member, session) -> None:
    m = member(Channel.SMS, ABROAD)
    for text in ("hi", "2", "1"):
        await m.says(text)
    stop = fake_twilio.inbound_form(ABROAD, "ARRET", OptOutType="STOP")
    assert (await m.post_twilio(stop)).status == 200
    assert (await address_row(session, "sms", ABROAD)).opted_out_at is not None
    start = fake_twilio.inbound_form(ABROAD, "YES", OptOutType="START")
    assert (await m.post_twilio(start)).status == 200
    assert (await address_row(session, "sms", ABROAD)).opted_out_at is None


async def test_help_by_twilio_sms_does_not_offer_cancel(member) -> None:
    m = member(Channel.SMS, ABROAD)
    for text in ("hi", "2", "1"):
        await m.says(text)
    reply = await m.says("help")
    assert "MENU or 0" in reply and "CANCEL" not in reply


async def test_the_whatsapp_main_menu_opens_as_a_list_in_the_members_language(
    member, providers
) -> None:
    m = member(Channel.WHATSAPP, KARTHIK)
    menu = await m.says("hi")
    assert "1. என் உறுப்பினர் விவரம்" in menu  # the numbered list stays in the text
    picker = providers.twilio.contents[-1]["types"]["twilio/list-picker"]
    assert picker["button"] == "தேர்வு செய்யுங்கள்"
    assert len(picker["button"]) <= 20  # WhatsApp's limit for the list button
    assert m.last["ContentSid"] == providers.twilio.contents[-1]["sid"]


async def test_a_language_name_switches_language_outside_free_text(member, session) -> None:
    m = member(Channel.WHATSAPP, "+919840200031")
    await m.says("வணக்கம்")
    assert "தனியுரிமை:" in await m.says("1")
    switched = await m.says("'English'")  # at the privacy notice: re-asked in English
    assert "write to you in English" in switched and "Privacy notice" in switched
    assert await address_row(session, "whatsapp", "+919840200031") is None  # no consent yet
    await m.says("aamaa")
    assert "என்ன செய்ய" in await m.says("தமிழ்")  # at the menu
    assert (await address_row(session, "whatsapp", "+919840200031")).language == "ta"


async def test_a_language_name_is_an_ordinary_answer_to_a_free_text_question(member) -> None:
    m = member(Channel.WHATSAPP, "+919840200032")
    for text in ("hi", "2", "1", "1"):  # English, agree, join: "What is your full name?"
        await m.says(text)
    assert "date of birth" in await m.says("Tamil")  # a name, not a switch
