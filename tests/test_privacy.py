"""Withdrawing consent erases a member's personal data (DPDP; FACTS.md), and keeps only
what the module docstring of core.services.privacy lists."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.models import ChannelAddress, Member, MemberUnit, OtpVerification
from core.services import addresses, conversations, members, privacy
from tests.factories import make_member, make_tree

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PRIYA = "+12025550111"  # demo member, English, Chennai booth
KARTHIK = "+12025550112"  # demo member, Tamil
CHENNAI_SECRETARY = "+12025550102"
SECRET = "test-secret-for-erased-addresses"


def hidden(channel: str, address: str) -> str:
    return privacy.erased_address(SECRET, channel, address)


async def test_every_foreign_key_to_members_has_an_erasure_decision(
    session: AsyncSession,
) -> None:
    rows = await session.execute(
        text(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
            " WHERE c.confrelid = 'members'::regclass AND c.contype = 'f'"
        )
    )
    assert {(t, c) for t, c in rows} == set(privacy.REFERENCES)


async def _linked_member(session: AsyncSession, phone: str) -> Member:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1, phone=phone, first_name="Selvi")
    member.date_of_birth = datetime(1990, 5, 1).date()
    member.email = "selvi@example.com"
    member.voter_id = "ABC1234567"
    for channel, address in ((Channel.WHATSAPP, phone), (Channel.TELEGRAM, "5550001")):
        await addresses.give_consent(session, channel, address, now=NOW)
        await addresses.link_member(
            session, channel, address, member_id=member.id, phone=phone, now=NOW
        )
    return member


async def test_erasing_a_member_empties_their_row_and_turns_their_addresses_into_refusals(
    session: AsyncSession,
) -> None:
    phone = "+919840077001"
    member = await _linked_member(session, phone)
    member_id, number = member.id, member.membership_number
    await session.execute(
        text(
            "INSERT INTO messages (direction, channel, address, provider, body)"
            " VALUES ('out', 'whatsapp', :p, 'twilio', 'Your membership: Selvi, VCK-CHN-1'),"
            "        ('out', 'telegram', '5550001', 'telegram', 'Name: Selvi'),"
            # An official's screen that named her, and one that did not:
            "        ('out', 'whatsapp', '+12025550102', 'twilio', '1. Selvi Member (B1)'),"
            "        ('out', 'whatsapp', '+12025550102', 'twilio', '1. Selvam Kumar (B1)')"
        ),
        {"p": phone},
    )
    old_otp = OtpVerification(
        phone=phone, otp_hmac="x" * 64, purpose="login", expires_at=NOW - timedelta(days=2)
    )
    old_otp.created_at = NOW - timedelta(days=2)
    recent_otp = OtpVerification(phone=phone, otp_hmac="y" * 64, purpose="login", expires_at=NOW)
    recent_otp.created_at = NOW - timedelta(minutes=3)
    session.add_all([old_otp, recent_otp])
    await session.flush()

    erased = await privacy.erase_member(session, member_id, secret=SECRET, now=NOW)
    await session.commit()
    session.expire_all()

    assert set(erased.addresses) == {("whatsapp", phone), ("telegram", "5550001")}
    row = await session.get(Member, member_id)
    assert row is not None
    assert (row.first_name, row.last_name, row.phone, row.email, row.date_of_birth) == (
        "", None, None, None, None,
    )  # fmt: skip
    assert row.voter_id is None and row.status == "resigned" and row.erased_at == NOW
    assert row.membership_number == number
    assert not (
        await session.scalars(select(MemberUnit).where(MemberUnit.member_id == member_id))
    ).all()
    for channel, address in erased.addresses:
        assert await addresses.get(session, channel, address) is None
        ca = await addresses.get(session, channel, hidden(channel, address))
        assert ca is not None and ca.member_id is None and ca.phone is None
        assert ca.consent_refused_at == NOW and ca.consent_given_at is None
    plain = text("SELECT body FROM messages WHERE address IN (:p, '5550001')")
    assert not list(await session.scalars(plain, {"p": phone}))
    bodies = await session.scalars(
        text("SELECT body FROM messages WHERE address IN (:w, :t)"),
        {"w": hidden("whatsapp", phone), "t": hidden("telegram", "5550001")},
    )
    assert list(bodies) == [None, None]
    official = await session.scalars(
        text("SELECT body FROM messages WHERE address = '+12025550102' ORDER BY body NULLS FIRST")
    )
    assert list(official) == [None, "1. Selvam Kumar (B1)"]
    otps = await session.scalars(
        select(OtpVerification.otp_hmac).where(OtpVerification.phone == phone)
    )
    assert list(otps) == []
    assert await members.find_by_phone(session, phone) is None


async def test_erasing_twice_changes_nothing_more(session: AsyncSession) -> None:
    member_id = (await _linked_member(session, "+919840077002")).id
    await privacy.erase_member(session, member_id, secret=SECRET, now=NOW)
    again = await privacy.erase_member(
        session, member_id, secret=SECRET, now=NOW + timedelta(hours=1)
    )
    session.expire_all()
    assert again.addresses == ()
    assert (await session.get(Member, member_id)).erased_at == NOW  # type: ignore[union-attr]


async def test_queued_announcements_to_an_erased_member_are_skipped_and_forget_the_address(
    session: AsyncSession,
) -> None:
    member = await _linked_member(session, "+919840077003")
    announcement = uuid.uuid4()
    for other, status in ((member.id, "queued"), (uuid.uuid4(), "queued")):
        await session.execute(
            text(
                "INSERT INTO announcement_deliveries (announcement_id, member_id, batch,"
                " channel, provider, address, language, status) VALUES (:a, :m, 0,"
                " 'whatsapp', 'twilio', :addr, 'ta', CAST(:s AS delivery_status))"
            ),
            {"a": announcement, "m": other, "addr": f"+91984{other.int % 10**7:07d}", "s": status},
        )
    await privacy.erase_member(session, member.id, secret=SECRET, now=NOW)
    rows = (
        await session.execute(
            text(
                "SELECT member_id, status::text, address, error_reason FROM announcement_deliveries"
                " WHERE announcement_id = :a"
            ),
            {"a": announcement},
        )
    ).all()
    mine = [r for r in rows if r.member_id == member.id]
    theirs = [r for r in rows if r.member_id != member.id]
    assert [(r.status, r.address, r.error_reason) for r in mine] == [("skipped", "", "erased")]
    assert [r.status for r in theirs] == ["queued"] and theirs[0].address


async def test_withdrawing_without_a_membership_keeps_only_the_refusal(
    session: AsyncSession,
) -> None:
    await addresses.give_consent(session, Channel.TELEGRAM, "5550002", now=NOW)
    await session.execute(
        text("UPDATE channel_addresses SET phone = '+919840077004' WHERE address = '5550002'")
    )
    result = await privacy.withdraw_consent(
        session, Channel.TELEGRAM, "5550002", member_id=None, secret=SECRET, now=NOW
    )
    session.expire_all()
    assert await session.scalar(
        select(ChannelAddress).where(ChannelAddress.address == "5550002")) is None  # fmt: skip
    row = await session.scalar(
        select(ChannelAddress).where(ChannelAddress.address == hidden("telegram", "5550002"))
    )
    assert result is None
    assert row is not None and row.phone is None and row.consent_refused_at == NOW


# --- through the conversation ------------------------------------------------------


async def test_a_member_deletes_their_details_from_the_menu(member, session, bot) -> None:
    half_typed = bot.conversation.store.key(Channel.SMS, PRIYA)  # her other channel, mid-flow
    state = '{"flow": "signup", "data": {"name": "Priya"}}'
    await session.execute(
        text(conversations.PUT), {"k": half_typed, "state": state, "at": datetime.now(UTC)}
    )
    await session.commit()
    m = member(Channel.WHATSAPP, PRIYA)
    menu = await m.says("hi")
    assert "Delete my details" in menu
    question = await m.says("delete")
    assert "VCK-CHN-" in question and "cannot be undone" in question
    done = await m.says("1")
    assert "details are deleted" in done and "What would you like to do" not in done

    session.expire_all()
    assert await members.find_by_phone(session, PRIYA) is None
    erased = await session.scalar(
        select(Member).where(Member.first_name == "", Member.erased_at.is_not(None))
    )
    assert erased is not None and erased.status == "resigned"
    assert await addresses.get(session, Channel.WHATSAPP, PRIYA) is None
    secret = bot.settings.secret_key.get_secret_value()
    row = await addresses.get(
        session, Channel.WHATSAPP, privacy.erased_address(secret, "whatsapp", PRIYA)
    )
    assert row is not None and row.member_id is None and row.consent_refused_at is not None
    assert not await session.scalar(text("SELECT count(*) FROM conversation_states"))
    # Writing again is a first contact: language, then consent.
    assert "Choose your language" in await m.says("hi")


async def test_keeping_the_details_changes_nothing(member, session) -> None:
    m = member(Channel.WHATSAPP, KARTHIK)
    await m.says("hi")
    question = await m.says("நீக்கு")
    assert "விவரங்களை நீக்கலாமா" in question
    kept = await m.says("2")
    assert "எதுவும் மாறவில்லை" in kept
    session.expire_all()
    assert (await members.find_by_phone(session, KARTHIK)) is not None


async def test_a_vague_answer_re_asks_and_deletes_nothing(member, session) -> None:
    m = member(Channel.WHATSAPP, PRIYA)
    await m.says("hi")
    await m.says("delete")
    assert "Please reply 1 to delete" in await m.says("maybe later 🙏")
    session.expire_all()
    assert (await members.find_by_phone(session, PRIYA)) is not None


async def test_an_official_proves_their_phone_then_is_told_their_position_ends_too(
    member, providers
) -> None:
    m = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await m.says("hi")
    asked = await m.says("நீக்கு")
    assert "SMS" in asked and "பொறுப்பும்" not in asked  # a fresh code first (review M3)
    code = re.search(r"\b(\d{6})\b", providers.sms_to(CHENNAI_SECRETARY)[-1]).group(1)
    assert "பொறுப்பும் முடிவுக்கு வரும்" in await m.says(code)


async def test_someone_who_only_consented_can_withdraw_too(member, session) -> None:
    stranger = "+919840077005"
    m = member(Channel.WHATSAPP, stranger)
    for text_ in ("hi", "2", "1"):  # English, I agree
        await m.says(text_)
    assert "we delete your details" in await m.says("delete")
    assert "details are deleted" in await m.says("yes")
    session.expire_all()
    assert await addresses.get(session, Channel.WHATSAPP, stranger) is None
    secret = m.bot.settings.secret_key.get_secret_value()
    row = await addresses.get(
        session, Channel.WHATSAPP, privacy.erased_address(secret, "whatsapp", stranger)
    )
    assert row is not None and row.consent_given_at is None and row.consent_refused_at is not None


async def test_an_erased_member_can_join_again_as_a_new_member(session: AsyncSession) -> None:
    tree = await make_tree(session)
    phone = "+919840077006"
    first = await make_member(session, unit=tree.booth_a1, phone=phone, membership_number="VCK-X-1")
    await privacy.erase_member(session, first.id, secret=SECRET, now=NOW)
    again = await make_member(session, unit=tree.booth_a1, phone=phone, membership_number="VCK-X-2")
    await session.commit()
    assert again.id != first.id and (await members.find_by_phone(session, phone)).id == again.id  # type: ignore[union-attr]
