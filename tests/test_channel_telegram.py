"""Telegram: secret header, update parsing, keyboards and error mapping, against the
in-process fake Bot API (python-telegram-bot unchanged)."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from core.channels.base import Channel, Choice, Reply, SendError
from core.channels.errors import MalformedPayload
from core.channels.telegram import (
    TelegramSender,
    callback_query_id,
    classify_error,
    parse_update,
    verify_secret,
)
from core.config import Settings, load_settings
from fakes.telegram import (
    FakeTelegram,
    callback_update,
    contact_update,
    location_update,
    message_update,
    text_update,
)

# python-telegram-bot's own RetryAfter constructor warns about a future type change.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NOW = datetime(2026, 1, 26, 4, 30, tzinfo=UTC)
CHAT = 555000111
YES_NO = (Choice("yes", "ஆம்"), Choice("no", "இல்லை"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(token="424242:test-token")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(fake: FakeTelegram) -> Settings:
    return load_settings(
        environment="test",
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.base_url,
        provider_timeout_seconds=2.0,
    )


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[TelegramSender]:
    sender = TelegramSender(settings)
    yield sender
    await sender.close()


# --- webhook secret -----------------------------------------------------------------


def test_the_configured_secret_header_is_accepted() -> None:
    assert verify_secret("s3cret-token", "s3cret-token")


def test_a_wrong_missing_or_unconfigured_secret_is_refused() -> None:
    assert not verify_secret("s3cret-token", "s3cret-tokem")
    assert not verify_secret("s3cret-token", None)
    assert not verify_secret("s3cret-token", "")
    assert not verify_secret("", "")


# --- parsing ------------------------------------------------------------------------


def test_a_text_message_becomes_an_inbound_message_keyed_by_update_id() -> None:
    message = parse_update(text_update(9001, CHAT, "  வணக்கம் ", first_name="Selvi"), received_at=NOW)
    assert message is not None
    assert message.channel == Channel.TELEGRAM
    assert message.provider == "telegram"
    assert message.address == str(CHAT)
    assert message.provider_message_id == "9001"
    assert message.text == "வணக்கம்"
    assert message.sender_user_id == CHAT
    assert message.profile_name == "Selvi"
    assert message.received_at == NOW


def test_a_shared_location_is_parsed() -> None:
    message = parse_update(location_update(9002, CHAT, 11.0168, 76.9558), received_at=NOW)
    assert message is not None and message.location is not None
    assert (message.location.latitude, message.location.longitude) == (11.0168, 76.9558)
    assert message.text == ""


def test_a_shared_contact_keeps_its_user_id_for_the_ownership_check() -> None:
    own = parse_update(contact_update(9003, CHAT, "919876543210"), received_at=NOW)
    assert own is not None and own.contact is not None
    assert own.contact.phone == "+919876543210"
    assert own.contact.user_id == own.sender_user_id == CHAT
    someone_else = parse_update(
        contact_update(9004, CHAT, "+91 98765 43211", contact_user_id=777), received_at=NOW
    )
    assert someone_else is not None and someone_else.contact is not None
    assert someone_else.contact.phone == "+919876543211"
    assert someone_else.contact.user_id == 777 != someone_else.sender_user_id


def test_a_button_press_carries_its_callback_data_as_the_choice() -> None:
    update = callback_update(9005, CHAT, "yes", query_id="abc123")
    message = parse_update(update, received_at=NOW)
    assert message is not None
    assert (message.choice_id, message.address, message.provider_message_id) == (
        "yes",
        str(CHAT),
        "9005",
    )
    assert callback_query_id(update) == "abc123"
    assert callback_query_id(text_update(1, CHAT, "hi")) is None


def test_update_kinds_the_bot_ignores_give_none() -> None:
    edited = message_update(
        9006, CHAT, kind="edited_message", text="edited", edit_date=1_700_000_000
    )
    assert parse_update(edited, received_at=NOW) is None
    joined = {
        "update_id": 9007,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": -100123, "type": "supergroup", "title": "VCK Chennai"},
            "from": {"id": 1, "is_bot": False, "first_name": "A"},
            "new_chat_members": [{"id": 2, "is_bot": False, "first_name": "B"}],
        },
    }
    assert parse_update(joined, received_at=NOW) is None


def test_a_sticker_in_a_private_chat_still_reaches_the_flow_as_empty_text() -> None:
    sticker = message_update(
        9008,
        CHAT,
        sticker={
            "file_id": "x",
            "file_unique_id": "y",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        },
    )
    message = parse_update(sticker, received_at=NOW)
    assert message is not None and message.text == ""


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "update",
        {},
        {"update_id": "9009", "message": {}},
        {"update_id": True},
        {"update_id": 9010, "message": {"message_id": 1, "text": "no chat"}},
    ],
)
def test_something_that_is_not_an_update_is_malformed(payload: object) -> None:
    with pytest.raises(MalformedPayload):
        parse_update(payload, received_at=NOW)  # type: ignore[arg-type]


# --- sending ------------------------------------------------------------------------


async def test_choices_become_a_numbered_inline_keyboard(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    result = await sender.send(CHAT, Reply("சேர விரும்புகிறீர்களா?", YES_NO))
    (sent,) = fake.sent
    assert sent["chat_id"] == CHAT
    assert sent["text"] == "சேர விரும்புகிறீர்களா?\n\n1. ஆம்\n2. இல்லை"
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "1. ஆம்", "callback_data": "yes"}],
            [{"text": "2. இல்லை", "callback_data": "no"}],
        ]
    }
    assert result.provider_message_id == f"{CHAT}:{sent['message_id']}"


async def test_a_location_request_is_a_one_time_location_button(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    await sender.send(CHAT, Reply("இருப்பிடம்?", ask_location=True, button="📍 இருப்பிடத்தைப் பகிர்"))
    markup = fake.sent[0]["reply_markup"]
    assert markup["keyboard"] == [[{"text": "📍 இருப்பிடத்தைப் பகிர்", "request_location": True}]]
    assert markup["one_time_keyboard"] is True


async def test_a_contact_request_is_a_contact_button(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    await sender.send(CHAT, Reply("Phone?", ask_contact=True, button="Share my number"))
    markup = fake.sent[0]["reply_markup"]
    assert markup["keyboard"] == [[{"text": "Share my number", "request_contact": True}]]


async def test_plain_text_has_no_keyboard(sender: TelegramSender, fake: FakeTelegram) -> None:
    await sender.send(str(CHAT), Reply("வணக்கம்"))
    assert fake.sent[0]["text"] == "வணக்கம்"
    assert "reply_markup" not in fake.sent[0]


async def test_answering_a_button_press_stops_its_spinner(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    await sender.answer_callback("abc123")
    assert {"method": "answerCallbackQuery", "callback_query_id": "abc123"}.items() <= (
        fake.calls[-1].items()
    )


async def test_set_webhook_registers_url_and_secret(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    await sender.set_webhook("https://bot.vck.example/webhooks/telegram", "s3cret")
    assert fake.webhook["url"] == "https://bot.vck.example/webhooks/telegram"
    assert fake.webhook["secret_token"] == "s3cret"


# --- errors -------------------------------------------------------------------------


async def test_flood_control_is_retried_after_telegrams_retry_after(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    fake.fail(times=1, status=429, retry_after=3)
    with pytest.raises(SendError) as caught:
        await sender.send(CHAT, Reply("x"))
    assert not caught.value.permanent
    assert caught.value.retry_after == 3.0 and caught.value.code == "429"
    await sender.send(CHAT, Reply("x"))  # recovered
    assert len(fake.sent) == 1


async def test_a_member_who_blocked_the_bot_has_opted_out_of_telegram(
    sender: TelegramSender, fake: FakeTelegram
) -> None:
    fake.fail_for[str(CHAT)] = 403
    with pytest.raises(SendError) as caught:
        await sender.send(CHAT, Reply("x"))
    assert caught.value.opted_out and caught.value.permanent and caught.value.code == "403"


async def test_an_unknown_chat_is_unreachable(sender: TelegramSender, fake: FakeTelegram) -> None:
    fake.fail_for[str(CHAT)] = 400
    with pytest.raises(SendError) as caught:
        await sender.send(CHAT, Reply("x"))
    assert caught.value.unreachable and caught.value.code == "400"


async def test_a_server_error_is_retryable(sender: TelegramSender, fake: FakeTelegram) -> None:
    fake.fail(times=1, status=502)
    with pytest.raises(SendError) as caught:
        await sender.send(CHAT, Reply("x"))
    assert not caught.value.permanent


async def test_a_slow_bot_api_times_out_as_retryable(
    settings: Settings, fake: FakeTelegram
) -> None:
    sender = TelegramSender(settings.model_copy(update={"provider_timeout_seconds": 0.2}))
    fake.fail(times=1, delay=1.0, status=504)
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(CHAT, Reply("x"))
    finally:
        await sender.close()
    assert not caught.value.permanent and caught.value.code == "timeout"


async def test_an_unreachable_bot_api_is_a_retryable_network_error(settings: Settings) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on
    port = closed.getsockname()[1]
    closed.close()
    sender = TelegramSender(
        settings.model_copy(update={"telegram_api_base_url": f"http://127.0.0.1:{port}"})
    )
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(CHAT, Reply("x"))
    finally:
        await sender.close()
    assert not caught.value.permanent and not caught.value.unreachable


def test_error_classification() -> None:
    assert classify_error(RetryAfter(dt.timedelta(seconds=4))).retry_after == 4.0
    assert classify_error(Forbidden("Forbidden: user is deactivated")).unreachable
    assert not classify_error(Forbidden("Forbidden: user is deactivated")).opted_out
    other = classify_error(BadRequest("Message text is empty"))
    assert other.permanent and not other.unreachable
    assert classify_error(ChatMigrated(-100999)).unreachable
    assert not classify_error(TimedOut()).permanent
    assert not classify_error(NetworkError("connection reset")).permanent


def test_a_location_carries_its_accuracy_forwarding_and_date() -> None:
    sent = int(datetime(2027, 3, 1, 10, 0, tzinfo=UTC).timestamp())
    place = {"latitude": 11.94, "longitude": 79.48, "horizontal_accuracy": 35.5}
    own = parse_update(
        message_update(1, 42, location=place, date=sent), received_at=NOW_FOR_LOCATIONS
    )
    assert own is not None and own.location is not None
    assert own.location.accuracy_m == 35.5 and not own.location.forwarded
    assert own.location.sent_at == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    origin = {"type": "hidden_user", "date": sent, "sender_user_name": "Someone"}
    forwarded = parse_update(
        message_update(2, 42, location=place, forward_origin=origin), received_at=NOW_FOR_LOCATIONS
    )
    assert forwarded is not None and forwarded.location and forwarded.location.forwarded
    for odd in ("far", -5, 10_000, True):
        hostile = parse_update(
            message_update(3, 42, location={**place, "horizontal_accuracy": odd}),
            received_at=NOW_FOR_LOCATIONS,
        )
        assert hostile is not None and hostile.location and hostile.location.accuracy_m is None


NOW_FOR_LOCATIONS = datetime(2027, 3, 1, 10, 1, tzinfo=UTC)
