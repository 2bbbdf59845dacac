"""Officials verify new members of their own area — and only of their own area."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.channels.base import Channel
from core.models import Member

CHENNAI_SECRETARY = "+12025550102"
VILLUPURAM_SECRETARY = "+12025550103"
PENDING_IN_VILLUPURAM = "+12025550117"  # Deepa Ravi, demo
CODE = re.compile(r"\b(\d{6})\b")


async def step_up(official, providers) -> str:
    """Verifying needs a fresh SMS code first: type the one that arrived."""
    code = CODE.search(providers.sms_to(official.address)[-1]).group(1)
    return await official.says(code)


async def signup(m, name: str, pin: str) -> str:
    for text in ("hi", "2", "1", "1", name, "02/02/1992", "2", "1", pin, "skip", "skip"):
        await m.says(text)
    return await m.says("1")


async def test_a_new_signup_is_announced_to_the_officials_of_its_district(
    member, providers
) -> None:
    await signup(member(Channel.WHATSAPP, "+919840100001"), "Nila Kannan", "605602")
    # The Villupuram district secretary last wrote on WhatsApp? No: the demo gives them
    # WhatsApp and SMS addresses; the note goes to one of them, in Tamil.
    notes = [
        m
        for m in providers.twilio.sent + providers.dlt.sent
        if VILLUPURAM_SECRETARY in str(m.get("To"))
    ]
    assert len(notes) == 1
    text = notes[0]["Body"]
    assert "Nila Kannan" in text and "சரிபார்ப்புக்குக் காத்திருக்கிறார்" in text
    # The member wrote in English; the official reads their unit in Tamil.
    assert "விழுப்புரம்" in text and "Villupuram" not in text
    assert not [m for m in providers.twilio.sent if CHENNAI_SECRETARY in str(m.get("To"))]


async def test_an_official_verifies_a_pending_member_of_their_district_from_chat(
    member, providers, session
) -> None:
    official = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    menu = await official.says("hi")
    assert "கட்சிப் பணி" in menu and "புதியவர் சரிபார்ப்பு" not in menu
    duties = await official.says("2")  # Party work
    assert "1. புதியவர் சரிபார்ப்பு" in duties
    asked = await official.says("1")  # verify new members: a fresh code first
    assert "SMS" in asked and "Deepa Ravi" not in asked
    pending = await step_up(official, providers)
    assert "Deepa Ravi" in pending
    await official.says("1")
    done = await official.says("1")  # Verify
    assert "Deepa Ravi" in done and "செயலில்" in done

    row = await session.scalar(select(Member).where(Member.phone == PENDING_IN_VILLUPURAM))
    official_row = await session.scalar(select(Member).where(Member.phone == VILLUPURAM_SECRETARY))
    assert row.status == "active" and row.verified_at is not None
    assert row.verified_by == official_row.id
    told = [m for m in providers.twilio.sent if PENDING_IN_VILLUPURAM in str(m.get("To"))]
    told += [m for m in providers.dlt.sent if m.get("To") == PENDING_IN_VILLUPURAM]
    assert len(told) == 1 and "VCK-VPM-0000005" in str(told[0])


async def test_an_official_of_another_district_cannot_see_or_verify(member, session) -> None:
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await official.says("hi")
    await official.says("2")  # Party work
    reply = await official.says("1")  # verify new members: none in Chennai
    assert "யாரும் காத்திருக்கவில்லை" in reply
    row = await session.scalar(select(Member).where(Member.phone == PENDING_IN_VILLUPURAM))
    assert row.status == "pending"


async def test_ordinary_members_have_no_official_duties_in_their_menu(member) -> None:
    menu = await member(Channel.WHATSAPP, "+12025550111").says("hi")
    assert "Verify new members" not in menu and "Send an announcement" not in menu
    assert "Party work" not in menu
    assert "Verify" not in await member(Channel.WHATSAPP, "+12025550111").says("verify")


async def test_the_list_of_people_waiting_never_becomes_stored_whatsapp_content(
    member, providers
) -> None:
    """Quick-reply content stays at Twilio for good: names must not go into it."""
    official = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    await official.says("hi")
    await official.says("verify")  # verify new members, after a fresh code
    pending = await step_up(official, providers)
    assert "1. Deepa Ravi" in pending  # the numbered list in the text
    assert "Deepa Ravi" not in str(providers.twilio.contents)
