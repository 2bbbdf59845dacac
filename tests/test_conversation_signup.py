"""A member meets the bot: first contact, consent, signup, their membership — on every
channel, in Tamil and in English. Each exchange reads like the conversation."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.channels.base import Channel
from core.models import ChannelAddress, Member, MemberUnit, OrganizationUnit

NUMBER = re.compile(r"VCK-[A-Z]{3}-\d{7}")


async def member_row(session, phone: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.phone == phone))


async def primary_unit_code(session, member_id) -> str:
    return await session.scalar(
        select(OrganizationUnit.code)
        .join(MemberUnit, MemberUnit.unit_id == OrganizationUnit.id)
        .where(MemberUnit.member_id == member_id, MemberUnit.is_primary.is_(True))
    )


async def consent_in_tamil(m) -> None:
    assert "மொழியைத் தேர்ந்தெடுங்கள்" in await m.says("வணக்கம்")
    assert "தனியுரிமை:" in await m.says("1")
    assert "என்ன செய்ய விரும்புகிறீர்கள்" in await m.says("1")


async def test_whatsapp_signup_in_tamil_with_a_pin_code(member, session) -> None:
    m = member(Channel.WHATSAPP, "+919840011111")
    await consent_in_tamil(m)
    assert "முழுப் பெயர்" in await m.says("கட்சியில் சேர")
    assert "பிறந்த தேதி" in await m.says("செல்வி முருகன்")
    assert "பாலினம்" in await m.says("௧௫/௦௮/௧௯௯௦")  # Tamil digits
    assert "எங்கே வசிக்கிறீர்கள்" in await m.says("2")
    assert "பின்கோடை" in await m.says("1")
    assert "வாக்காளர் அடையாள அட்டை" in await m.says("605602")
    assert "மின்னஞ்சல்" in await m.says("abc1234567")
    summary = await m.says("தவிர்")
    assert "செல்வி முருகன்" in summary and "15 ஆகஸ்ட், 1990" in summary
    assert "ABC1234567" in summary and "விழுப்புரம்" in summary
    welcome = await m.says("1")
    number = NUMBER.search(welcome).group(0)
    assert number.startswith("VCK-VPM-")

    row = await member_row(session, "+919840011111")
    assert row.status == "pending" and row.membership_number == number
    assert row.first_name_ta == "செல்வி முருகன்" or row.first_name_ta == "செல்வி"
    assert row.language == "ta" and row.voter_id == "ABC1234567"
    assert await primary_unit_code(session, row.id) == "TN.VPM"

    card = await m.says("1")  # My membership
    assert number in card and "சரிபார்ப்புக்குக் காத்திருக்கிறது" in card


async def test_whatsapp_signup_in_english_with_a_shared_location(member, session) -> None:
    m = member(Channel.WHATSAPP, "+14155550100")
    assert "Choose your language" in await m.says("hi")
    assert "Privacy notice" in await m.says("English")
    assert "What would you like to do" in await m.says("I agree")
    assert "full name" in await m.says("1")
    assert "date of birth" in await m.says("Arun Kumar")
    assert "gender" in (await m.says("01-02-1985")).lower()
    assert "Where do you live" in await m.says("male")
    assert "share your location" in (await m.says("2")).lower()
    # A shared location near the demo booth at Villupuram head post office.
    assert "voter ID" in await m.says(location=(11.9455, 79.4950))
    assert "email" in await m.says("skip")
    assert "Please check your details" in await m.says("arun@example.com")
    welcome = await m.says("Confirm and join")
    assert NUMBER.search(welcome)

    row = await member_row(session, "+14155550100")
    assert row.email == "arun@example.com" and row.language == "en"
    assert (await primary_unit_code(session, row.id)).startswith("TN.VPM.AC074.B")


async def test_a_phone_that_is_already_a_member_gets_its_existing_membership(
    member, session
) -> None:
    m = member(Channel.WHATSAPP, "+12025550111")  # Priya, a demo member (English)
    reply = await m.says("hello")
    assert "My membership" in reply and "Join the party" not in reply
    card = await m.says("1")
    assert "VCK-CHN-0000005" in card
    count = len((await session.scalars(select(Member).where(Member.phone == "+12025550111"))).all())
    assert count == 1


async def test_declining_consent_stores_nothing_but_the_refusal(member, session) -> None:
    m = member(Channel.WHATSAPP, "+919840022222")
    await m.says("hi")
    await m.says("2")  # English
    reply = await m.says("No, thank you")
    assert "not kept any of your details" in reply
    row = await session.scalar(
        select(ChannelAddress).where(ChannelAddress.address == "+919840022222")
    )
    assert row.consent_refused_at is not None and row.consent_given_at is None
    assert row.member_id is None and row.phone is None
    assert await member_row(session, "+919840022222") is None
    # Writing again brings the notice back (in the language chosen): nothing proceeds
    # without consent.
    assert "Privacy notice" in await m.says("join")


async def test_a_fifteen_year_old_is_told_kindly_and_nothing_is_written(member, session) -> None:
    m = member(Channel.WHATSAPP, "+919840033333")
    await m.says("hi")
    await m.says("2")
    await m.says("1")
    await m.says("1")
    await m.says("Young Person")
    reply = await m.says("01/01/2014")
    assert "open from the age of 18" in reply
    assert await member_row(session, "+919840033333") is None


async def test_bad_answers_re_ask_the_same_question_and_keep_what_was_entered(member) -> None:
    m = member(Channel.WHATSAPP, "+919840044444")
    await m.says("hi")
    await m.says("2")
    await m.says("1")
    await m.says("1")
    await m.says("Kumar Raja")
    assert "future" in await m.says("01/01/2090")
    assert "could not read" in await m.says("'; DROP TABLE members; --")
    assert "could not read" in await m.says("🙏🙏🙏")
    assert "gender" in (await m.says("12/12/1980")).lower()
    assert "number from the list" in await m.says("x" * 5000)
    await m.says("1")
    await m.says("1")
    assert "could not find 695001" in await m.says("695001")  # a Kerala PIN
    assert "A PIN code has 6 digits" in await m.says("12345")
    await m.says("600001")
    await m.says("skip")
    summary = await m.says("skip")
    assert "Kumar Raja" in summary and "12 December 1980" in summary  # nothing was lost


async def test_a_location_outside_tamil_nadu_is_refused_politely(member) -> None:
    m = member(Channel.WHATSAPP, "+919840055555")
    for text in ("hi", "2", "1", "1", "Ravi", "05/05/1975", "1", "2"):
        await m.says(text)
    reply = await m.says(location=(28.6139, 77.2090))  # New Delhi
    assert "outside Tamil Nadu" in reply
    # Bengaluru lies in Tamil Nadu's bounding box, 30 km from Hosur's booths.
    assert "outside Tamil Nadu" in await m.says(location=(12.9716, 77.5946))
    assert "voter ID" in await m.says("600001")  # the PIN code still works here


async def test_the_privacy_notice_says_what_dpdp_asks_in_both_languages(member, settings) -> None:
    # What is kept and why, that it is voluntary, how to withdraw (the menu item by its
    # own label, and its keyword), the grievance contact, and the Data Protection Board.
    english = await _notice(member(Channel.WHATSAPP, "+14155550107"), "English")
    for said in ("phone number", "only for party membership work", "voluntary"):
        assert said in english
    assert "'Delete my details'" in english and "send DELETE" in english
    assert settings.grievance_officer_contact in english
    assert "Data Protection Board of India" in english

    tamil = await _notice(member(Channel.WHATSAPP, "+14155550108"), "தமிழ்")
    for said in ("கைபேசி எண்", "பணிகளுக்கு மட்டுமே", "உங்கள் விருப்பம்"):
        assert said in tamil
    assert "'என் விவரங்களை நீக்க'" in tamil and "'நீக்கு'" in tamil
    assert settings.grievance_officer_contact in tamil
    assert "Data Protection Board of India" in tamil and "புகார்" in tamil


async def _notice(m, language: str) -> str:
    await m.says("hi")
    return await m.says(language)


async def test_the_withdrawal_the_notice_names_works(member) -> None:
    # The keyword the notice teaches, sent at the menu, asks to delete the details.
    m = member(Channel.WHATSAPP, "+14155550109")
    await m.says("hi")
    await m.says("தமிழ்")
    await m.says("1")
    assert "நீக்கலாமா" in await m.says("நீக்கு")
