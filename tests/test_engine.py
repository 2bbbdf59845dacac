"""The conversation engine's transaction: the message log entry, what the flow step wrote
through its ORM session, and the reply commit together or not at all."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import func, select

from bot import engine as engine_module
from bot.engine import Engine
from bot.outbox import RecordingOutbox
from core.channels.console import parse_console_line
from core.models import ChannelAddress, Message

PHONE = "+919840055555"


async def test_a_message_that_fails_leaves_nothing_and_its_retry_is_handled_once(
    settings, engine, redis, session, monkeypatch
) -> None:
    bot_engine = Engine(settings, engine, redis, RecordingOutbox())

    def line(text: str, counter: int):
        return parse_console_line(PHONE, text, received_at=datetime.now(UTC), counter=counter)

    assert await bot_engine.handle(line("hello", 1))
    assert "Privacy notice" in (await bot_engine.handle(line("2", 2)))[0].text  # English
    # The step runs and its session commits; then recording the reply fails.
    monkeypatch.setattr(
        engine_module,
        "SAVE_AND_RECORD_REPLY",
        "INSERT INTO no_such_table VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    with pytest.raises(asyncpg.UndefinedTableError):
        await bot_engine.handle(line("1", 3))  # I agree: stores consent and language
    monkeypatch.undo()

    address = await session.scalar(select(ChannelAddress).where(ChannelAddress.address == PHONE))
    assert address is None or address.consent_given_at is None  # the flow's writes undone
    logged = select(func.count()).select_from(Message).where(Message.address == PHONE)
    assert await session.scalar(logged) == 4  # two messages and their replies, not the third

    retried = await bot_engine.handle(line("1", 3))  # the provider retries the same message
    assert "Thank you" in retried[0].text
    assert await bot_engine.handle(line("1", 3)) == []  # and again: already handled
    session.expire_all()
    address = await session.scalar(select(ChannelAddress).where(ChannelAddress.address == PHONE))
    assert address.consent_given_at is not None and address.language == "en"
    assert await session.scalar(logged) == 6
