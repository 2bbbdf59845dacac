"""Fixtures for tests that drive the bot through its webhooks: the fake providers on
loopback, the bot wired to them, and a client for its HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.app import make_app
from bot.bootstrap import Bot, build_bot
from core.channels.base import Channel
from core.config import Settings
from fakes.dlt import FakeDlt
from fakes.telegram import FakeTelegram
from fakes.twilio import FakeTwilio
from tests.bot_harness import Member, Providers


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[Providers]:
    fakes = Providers(
        twilio=FakeTwilio.from_settings(settings),
        telegram=FakeTelegram.from_settings(settings),
        dlt=FakeDlt.from_settings(settings),
    )
    for fake in (fakes.twilio, fakes.telegram, fakes.dlt):
        await fake.start()
    yield fakes
    for fake in (fakes.twilio, fakes.telegram, fakes.dlt):
        await fake.stop()


@pytest.fixture
def bot_settings(settings: Settings, providers: Providers) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": "https://vck.example.org",
            "twilio_api_base_url": providers.twilio.base_url,
            "telegram_api_base_url": providers.telegram.base_url,
            "dlt_api_base_url": providers.dlt.base_url,
        }
    )


@pytest.fixture
async def bot(bot_settings: Settings, redis: Redis) -> AsyncIterator[Bot]:
    """The bot process's parts, wired to the fakes; ``redis`` empties the test database."""
    yield build_bot(bot_settings)


@pytest.fixture
async def client(bot: Bot) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_app(bot))) as client:
        yield client


@pytest.fixture
def member(client: TestClient, bot: Bot, providers: Providers) -> Callable[[Channel, str], Member]:
    """``member(Channel.WHATSAPP, "+919840012345")``: someone to talk as."""

    def make(channel: Channel, address: str) -> Member:
        return Member(client, bot, providers, channel, address)

    return make
