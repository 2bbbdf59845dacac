"""Telegram groups (security review M4): a group would share one conversation and one
identity — whoever links a phone there makes everyone in the group that member, and
anyone can press the buttons. The bot answers a group once, politely, and keeps
nothing: no conversation, no address, no message log."""

from __future__ import annotations

from sqlalchemy import func, select, text

from core.channels.base import Channel
from core.models import ChannelAddress
from fakes import telegram as fake_telegram

GROUP = -1001234567890


def in_group(update: dict) -> dict:
    kind = "callback_query" if "callback_query" in update else "message"
    chat = {"id": GROUP, "type": "supergroup", "title": "Villupuram officials"}
    if kind == "message":
        update["message"]["chat"] = chat
    else:
        update["callback_query"]["message"]["chat"] = chat
    return update


async def test_a_group_is_answered_politely_and_nothing_is_kept(member, providers, session) -> None:
    m = member(Channel.TELEGRAM, str(GROUP))
    for update in (
        in_group(fake_telegram.text_update(9001, GROUP, "/start", user_id=111)),
        in_group(fake_telegram.text_update(9002, GROUP, "menu", user_id=222)),
        in_group(fake_telegram.callback_update(9003, GROUP, "verify", user_id=333)),
    ):
        response = await m.post_telegram(update)
        assert response.status == 200
    said = [msg for msg in providers.telegram.sent if msg.get("method") == "sendMessage"]
    assert len(said) == 3
    assert all(str(msg["chat_id"]) == str(GROUP) for msg in said)
    assert all("private chat" in msg["text"] and "தனி" in msg["text"] for msg in said)
    kept = await session.scalar(
        text("SELECT count(*) FROM messages WHERE address = :g"), {"g": str(GROUP)}
    )
    assert kept == 0
    assert await session.scalar(select(func.count()).select_from(ChannelAddress).where(
        ChannelAddress.address == str(GROUP))) == 0  # fmt: skip
    assert not await session.scalar(text("SELECT count(*) FROM conversation_states"))


async def test_the_same_person_in_a_private_chat_is_answered(member) -> None:
    m = member(Channel.TELEGRAM, "111")
    assert "Choose your language" in await m.says("/start")


async def test_no_key_names_a_number_mid_conversation(member, session) -> None:
    """Flood and button keys in Redis, and conversation states in PostgreSQL, name an
    address by a keyed HMAC: a dump of either lists no member's number."""
    m = member(Channel.WHATSAPP, "+919876500042")
    await m.says("hi")
    await m.says("1")  # into a flow: a state is saved
    keys = [key.decode() for key in await m.bot.redis.keys("*")]
    assert any(key.startswith("vck:flood:") for key in keys)
    assert not [key for key in keys if "9876500042" in key]
    states = (await session.execute(text("SELECT key, state::text FROM conversation_states"))).all()
    assert [key for key, _ in states] == [m.bot.conversation.store.key(Channel.WHATSAPP, m.address)]
    assert "welcome" in states[0][1] and not [s for s in states if "9876500042" in str(s)]
