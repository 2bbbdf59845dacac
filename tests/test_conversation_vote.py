"""Members vote from chat: a constituency elects its secretary on WhatsApp, Telegram and
SMS, in Tamil and English; each voter gets a receipt they can check; a second ballot
is impossible; the board recounts to the declared result; the message log keeps
nothing of the voting steps."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core import board
from core.channels.base import Channel
from core.services import ballots, elections
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio
from tests.bot_harness import _twilio_text
from tests.elections_fixtures import VOTERS, open_election

CODE = re.compile(r"\b(\d{6})\b")
RECEIPT = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
SENTHIL, ILANGO, PRIYA, KARTHIK = VOTERS
PRIYA_TELEGRAM = "7007001"


async def code_for(providers, phone: str) -> str:
    codes = [found.group(1) for t in providers.sms_to(phone) if (found := CODE.search(t))]
    assert codes, providers.sms_to(phone)
    return codes[-1]


async def link_telegram(session, phone: str, chat_id: str) -> None:
    """Priya linked her Telegram account earlier (the link flow's outcome)."""
    await session.execute(
        text(
            "INSERT INTO channel_addresses (channel, address, phone, member_id, language,"
            " consent_given_at) SELECT 'telegram', :a, phone, id, language, now()"
            " FROM members WHERE phone = :p"
        ),
        {"a": chat_id, "p": phone},
    )
    await session.commit()


async def vote(m, providers, phone: str, word: str, candidate: str) -> str:
    """Open the vote flow with ``word``, step up, choose ``candidate`` (a number) and
    cast. Returns the reply with the receipt."""
    await m.says("hi")
    listed = await m.says(word)
    assert "AC018 secretary 2027" in listed
    asked = await m.says("1")
    assert "SMS" in asked
    ballot = await m.says(await code_for(providers, phone))
    confirm = await m.says(candidate)
    assert confirm.strip() and ballot != confirm
    return ballot + "\n---\n" + confirm + "\n---\n" + await m.says("1")


async def test_a_constituency_elects_its_secretary_on_every_channel(
    member, providers, session, settings
) -> None:
    e = await open_election(session, settings)
    await link_telegram(session, PRIYA, PRIYA_TELEGRAM)
    candidates = await elections.candidates(session, e)
    assert [c.name for c in candidates] == ["Ilango Raman", "Karthik Subramani", "Senthil Kumar"]

    senthil = member(Channel.WHATSAPP, SENTHIL)  # Tamil
    said = await vote(senthil, providers, SENTHIL, "வாக்கு", "3")
    assert "இணைக்க" in said  # the honesty sentence, in Tamil
    assert "இளங்கோ ராமன்" in said and "செந்தில் குமார்" in said  # candidates in Tamil
    receipts = [RECEIPT.search(said).group(1)]

    priya = member(Channel.TELEGRAM, PRIYA_TELEGRAM)  # English
    said = await vote(priya, providers, PRIYA, "vote", "3")
    assert "nothing links it to you" in said and "chat app can see" in said
    assert "Ilango Raman" in said and "Your vote: Senthil Kumar" in said
    assert "Your vote is cast" in said and "shown only now" in said
    receipts.append(RECEIPT.search(said).group(1))

    ilango = member(Channel.SMS, ILANGO)  # Tamil, by SMS
    said = await vote(ilango, providers, ILANGO, "வாக்களி", "1")
    receipts.append(RECEIPT.search(said).group(1))

    karthik = member(Channel.WHATSAPP, KARTHIK)  # switches to English first
    await karthik.says("hi")
    await karthik.says("English")  # a language's name switches to it
    said = await vote(karthik, providers, KARTHIK, "vote", "2")
    receipts.append(RECEIPT.search(said).group(1))

    # A double vote is impossible: the election is marked voted, and picking it says so.
    listed = await senthil.says("வாக்கு")
    assert "✓" in listed
    assert "ஏற்கெனவே" in await senthil.says("1")

    # "Is my ballot counted?": held until the batch is full or voting closes.
    await priya.says("vote")
    assert "receipt" in await priya.says("Check my vote")
    held = await priya.says(receipts[1].lower().replace("-", " "))
    assert "Received" in held and "Senthil Kumar" in held
    await priya.says("vote")
    await priya.says("2")
    unknown = await priya.says("ABCD-EFGH-JKMN")
    assert "not found" in unknown

    await elections.advance(session, settings, now=datetime.now(UTC) + timedelta(hours=3))
    await session.commit()
    await priya.says("0")
    await priya.says("vote")
    await priya.says("1")
    counted = await priya.says(receipts[1])
    assert "Counted" in counted and "ballot number" in counted

    doc = await ballots.export(session, e)
    verdict = board.verify(doc)
    assert verdict.ok, verdict.problems
    assert verdict.tally == doc["declared"]
    by_name = {c.name: verdict.tally[str(c.id)] for c in candidates}
    assert by_name == {"Senthil Kumar": 2, "Ilango Raman": 1, "Karthik Subramani": 1}
    assert {r["receipt"] for r in doc["ballots"]} == {
        board.receipt_hash(r.replace("-", "")) for r in receipts
    }

    # The message log keeps nothing of the voting steps: no receipt, no ballot, no choice.
    bodies = " ".join(
        b or "" for b in (await session.execute(text("SELECT body FROM messages"))).scalars().all()
    )
    for receipt in receipts:
        assert receipt not in bodies
    for sentence in ("who do you vote for", "Your vote", "chat app", "Counted", "Received"):
        assert sentence not in bodies
    assert "யாருக்கு" not in bodies
    # Candidates are people: their names never become WhatsApp content kept for good.
    assert "Karthik" not in str(providers.twilio.contents)


async def test_twenty_attempts_at_once_from_two_channels_give_one_ballot(
    member, providers, session, settings, client
) -> None:
    e = await open_election(session, settings)
    wa = member(Channel.WHATSAPP, PRIYA)
    sms = member(Channel.SMS, PRIYA)
    await wa.says("hi")
    await wa.says("vote")
    await wa.says("1")
    await wa.says(await code_for(providers, PRIYA))
    assert "Cast it?" in await wa.says("2")
    await sms.says("hi")
    await sms.says("vote")
    assert "who do you vote for" in await sms.says("1")  # the code is still fresh
    assert "Cast it?" in await sms.says("3")

    before = len(providers.twilio.sent)
    forms = [
        fake_twilio.inbound_form(("whatsapp:" if i % 2 else "") + PRIYA, "1") for i in range(20)
    ]
    responses = await asyncio.gather(*(wa.post_twilio(form) for form in forms))
    assert [r.status for r in responses] == [200] * 20
    bodies = [await r.text() for r in responses]
    await wa.bot.drain()
    said = bodies + [_twilio_text(m) for m in providers.twilio.sent[before:]]
    voters = await session.scalar(
        text("SELECT count(*) FROM election_voters WHERE election_id = :e"), {"e": e}
    )
    held = await session.scalar(
        text(
            "SELECT (SELECT count(*) FROM election_ballot_pool WHERE election_id = :e)"
            " + (SELECT count(*) FROM election_votes WHERE election_id = :e)"
        ),
        {"e": e},
    )
    assert voters == 1 and held == 1
    assert sum("Your vote is cast" in s for s in said) == 1
    assert sum("already voted" in s for s in said) == 1


async def test_bad_input_on_the_way_to_a_ballot(member, providers, session, settings) -> None:
    e = await open_election(session, settings)
    m = member(Channel.WHATSAPP, PRIYA)
    await m.says("hi")
    await m.says("vote")
    await m.says("1")
    wrong = await m.says("000000")
    assert "code" in wrong.lower() and "who do you vote for" not in wrong
    ballot = await m.says(await code_for(providers, PRIYA))
    assert "who do you vote for" in ballot
    assert "Please reply with a number" in await m.says("7")  # not a candidate
    assert "Cast it?" in await m.says("1")
    # Voting closes while they think: nothing is cast.
    await session.execute(
        text("UPDATE elections SET voting_end = now() - interval '1 second' WHERE id = :e"),
        {"e": e},
    )
    await session.commit()
    assert "closed" in await m.says("1")
    assert await session.scalar(text("SELECT count(*) FROM election_voters")) == 0


async def test_members_not_on_the_roll_see_no_vote_entry(member, session, settings) -> None:
    await open_election(session, settings)
    villupuram = member(Channel.WHATSAPP, "+12025550114")
    menu = await villupuram.says("hi")
    assert "வாக்கு" not in menu
    assert "AC018 secretary 2027" not in await villupuram.says("vote")


async def test_a_stale_button_casts_nothing(member, providers, session, settings) -> None:
    """'Cast my vote' pressed on an earlier message (a ballot shown before "Choose
    again") re-asks the current question instead of casting."""
    e = await open_election(session, settings)
    await link_telegram(session, PRIYA, PRIYA_TELEGRAM)
    m = member(Channel.TELEGRAM, PRIYA_TELEGRAM)
    await m.says("hi")
    await m.says("vote")
    await m.says("1")
    await m.says(await code_for(providers, PRIYA))
    assert "Cast it?" in await m.says(button=str((await elections.candidates(session, e))[0].id))
    first_confirm = m.last["message_id"]
    assert "who do you vote for" in await m.says(button="change")
    assert "Cast it?" in await m.says("2")
    stale = fake_telegram.callback_update(
        990001, int(PRIYA_TELEGRAM), "cast", message_id=first_confirm
    )
    assert (await m.post_telegram(stale)).status == 200
    said = [s for s in providers.telegram.sent if s.get("method") == "sendMessage"][-1]
    assert "Cast it?" in said["text"] and "Your vote is cast" not in said["text"]
    assert await session.scalar(text("SELECT count(*) FROM election_voters")) == 0


async def test_an_election_without_candidates_asks_for_no_code(
    member, providers, session, settings
):
    await open_election(session, settings, candidates=())
    m = member(Channel.WHATSAPP, PRIYA)
    await m.says("hi")
    await m.says("vote")
    assert "no approved candidates" in await m.says("1")
    assert not [t for t in providers.sms_to(PRIYA) if CODE.search(t)]
