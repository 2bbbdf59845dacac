"""Telegram through python-telegram-bot: verify, parse, render, send, map errors.

Telegram does not sign update bodies: ``setWebhook(secret_token=…)`` makes every update
carry ``X-Telegram-Bot-Api-Secret-Token``, compared here in constant time. Updates are
parsed with the library's own ``Update.de_json``; replies go out through a ``telegram.Bot``
whose base URL is configuration (the local fake in tests).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import unicodedata
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter
from telegram.warnings import PTBDeprecationWarning

from core.channels.base import (
    Channel,
    Contact,
    InboundMessage,
    Location,
    Media,
    Outcome,
    Reply,
    SendError,
    SendResult,
    idempotent,
    request_headers,
    request_in_doubt,
)
from core.channels.errors import MalformedPayload
from core.channels.inbound_checks import well_formed
from core.config import Settings

log = logging.getLogger(__name__)

PROVIDER = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def verify_secret(expected: str, header_value: str | None) -> bool:
    """True when the webhook's secret-token header equals the configured secret.

    Telegram allows only ``A-Z a-z 0-9 _ -`` in the secret, so a header that is not
    ASCII (a 0xFF byte arrives as a lone surrogate) is refused, not encoded."""
    if not expected or not header_value or not header_value.isascii():
        return False
    return hmac.compare_digest(expected.encode(), header_value.encode("ascii"))


def load_update(body: bytes) -> Any:
    """The JSON of a webhook body, as bytes: Telegram sends UTF-8 whatever the header says.
    Nesting deep enough to exhaust the parser's recursion is malformed, not a fault."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedPayload("body is not JSON") from exc


def _text(value: str | None) -> str:
    return unicodedata.normalize("NFC", (value or "").strip())


def _phone(raw: object) -> str:
    """Telegram sends contact numbers without '+' (``919876543210``)."""
    if not isinstance(raw, str):
        raise MalformedPayload("a contact's phone number is a string")
    digits = "".join(ch for ch in raw if ch.isdigit())
    return "+" + digits


def _de_json(data: object) -> Update:
    if not isinstance(data, Mapping):
        raise MalformedPayload("an update is a JSON object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedPayload("update_id must be an integer")
    try:
        update = Update.de_json(dict(data), bot=None)
    # The library trusts Telegram's types: a date of 1e20 overflows, a deep object
    # recurses, a string where an object belongs meets an attribute that is not there.
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:
        raise MalformedPayload(f"not a Telegram update: {exc}") from exc
    if update is None:
        raise MalformedPayload("not a Telegram update")
    return update


def parse_update(data: dict[str, Any], *, received_at: datetime) -> InboundMessage | None:
    """A webhook update as an :class:`InboundMessage`; None for update kinds the bot
    ignores (edited messages, channel posts, membership changes, …).

    ``provider_message_id`` is the ``update_id`` (Telegram redelivers by update id)."""
    update = _de_json(data)
    try:
        message = _inbound(update, received_at)
    # The objects were built unchecked: a chat left out is None, a name that is a number
    # breaks ``full_name``. Reading them is where a malformed update shows.
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedPayload(f"not a Telegram update: {type(exc).__name__}") from exc
    return None if message is None else well_formed(message)


def _chat_id(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedPayload("a chat id is an integer")
    return str(value)


def _inbound(update: Update, received_at: datetime) -> InboundMessage | None:
    common = {
        "channel": Channel.TELEGRAM,
        "provider": PROVIDER,
        "provider_message_id": str(update.update_id),
        "received_at": received_at,
    }
    query = update.callback_query
    if query is not None:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        return InboundMessage(
            **common,  # type: ignore[arg-type]
            address=_chat_id(chat_id),
            private_chat=query.message is None or query.message.chat.type == "private",
            choice_id=query.data or None,
            replied_to=(
                f"{query.message.chat.id}:{query.message.message_id}"
                if query.message is not None
                else None
            ),
            sender_user_id=query.from_user.id,
            profile_name=query.from_user.full_name or None,
        )
    message = update.message
    if message is None:
        return None
    user = message.from_user
    location = contact = None
    if message.location is not None:
        location = Location(
            latitude=message.location.latitude,
            longitude=message.location.longitude,
            accuracy_m=_accuracy(message.location.horizontal_accuracy),
            forwarded=message.forward_origin is not None,
            sent_at=message.date,
        )
    if message.contact is not None:
        contact = Contact(
            phone=_phone(message.contact.phone_number),
            first_name=message.contact.first_name or None,
            user_id=message.contact.user_id,
        )
    text = _text(message.text) or _text(message.caption)
    media = _media(message)
    if not (text or location or contact) and message.chat.type != "private":
        return None  # service messages and media in groups are not talk to the bot
    return InboundMessage(
        **common,  # type: ignore[arg-type]
        address=_chat_id(message.chat.id),
        private_chat=message.chat.type == "private",
        text=text,
        location=location,
        contact=contact,
        sender_user_id=user.id if user is not None else None,
        profile_name=(user.full_name or None) if user is not None else None,
        media=media,
    )


def _accuracy(value: object) -> float | None:
    """Telegram's ``horizontal_accuracy``: a number of metres, 0-1,500; anything else is
    treated as not given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= 1500 else None


def _media(message: Any) -> tuple[Media, ...]:
    """A photo (Telegram re-encodes it without EXIF: its largest size), a voice note, or
    anything sent as a file (a document, an audio file, a video), by file id."""
    if message.photo:
        largest = message.photo[-1]
        return (Media("image", largest.file_id, "image/jpeg", largest.file_size),)
    for attribute, kind in (("voice", "audio"), ("audio", "document"), ("video", "video"),
                            ("video_note", "video"), ("document", "document")):  # fmt: skip
        item = getattr(message, attribute, None)
        if item is not None:
            content_type = getattr(item, "mime_type", None)
            return (Media(kind, item.file_id, content_type, item.file_size),)
    return ()


def callback_query_id(data: Mapping[str, Any]) -> str | None:
    """The id to acknowledge with :meth:`TelegramSender.answer_callback`, if the update
    is a button press."""
    query = data.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("id"), str):
        return str(query["id"])
    return None


# --- rendering -----------------------------------------------------------------------


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """Choices as an inline keyboard (one numbered button per row, callback data = choice
    id); a location or contact request as a one-time reply-keyboard button whose
    (translated) label is ``reply.button``."""
    if reply.choices:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(f"{n}. {choice.label}", callback_data=choice.id)]
                for n, choice in enumerate(reply.choices, 1)
            ]
        )
    if reply.ask_location or reply.ask_contact:
        if not reply.button:
            log.warning("telegram: location/contact request without a button label")
            return None
        button = KeyboardButton(
            reply.button,
            request_location=reply.ask_location or None,
            request_contact=reply.ask_contact or None,
        )
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    return None


# --- errors --------------------------------------------------------------------------


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type turns into timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def classify_error(exc: TelegramError) -> SendError:
    """Map a python-telegram-bot error to a :class:`SendError`."""
    text = exc.message.lower()
    if isinstance(exc, RetryAfter):
        return SendError(f"telegram: {exc.message}", code="429", retry_after=_retry_seconds(exc))
    if isinstance(exc, Forbidden):
        if "blocked" in text:
            return SendError(f"telegram: {exc.message}", code="403", outcome=Outcome.OPTED_OUT)
        return SendError(f"telegram: {exc.message}", code="403", outcome=Outcome.UNREACHABLE)
    if isinstance(exc, BadRequest):
        if "chat not found" in text or "user not found" in text:
            return SendError(f"telegram: {exc.message}", code="400", outcome=Outcome.UNREACHABLE)
        return SendError(f"telegram: {exc.message}", code="400", outcome=Outcome.PERMANENT)
    if isinstance(exc, ChatMigrated):
        return SendError(
            f"telegram: chat migrated to {exc.new_chat_id}",
            code="migrated",
            outcome=Outcome.UNREACHABLE,
        )
    if isinstance(exc, TimedOut):
        return SendError("telegram: timed out", code="timeout", in_doubt=True)
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        return SendError(
            f"telegram: {exc.message}",
            code="network",
            in_doubt=cause is not None and request_in_doubt(cause),  # else: an answer (5xx)
        )
    return SendError(f"telegram: {exc.message}", code="error", outcome=Outcome.PERMANENT)


# --- sending -------------------------------------------------------------------------


class AiohttpRequest(BaseRequest):
    """python-telegram-bot's networking on aiohttp, through the library's extension point
    (``BaseRequest``): about half the CPU per message of its default httpx backend, the
    client our other providers use, and the message's idempotency key
    (:func:`core.channels.base.idempotent`) on the request. Text only: the bot sends no
    files."""

    def __init__(self, *, timeout: float, pool_size: int = 64) -> None:
        self._timeout = timeout
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._timeout

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
        return self._session

    async def initialize(self) -> None:
        self._client()

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            raise TelegramError("this client sends no files (the bot sends none)")
        headers = request_headers({"User-Agent": self.USER_AGENT})
        data = None
        if request_data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urlencode(request_data.json_parameters).encode()
        # A call's own read timeout (getUpdates long polling) wins over the default.
        total = read_timeout if isinstance(read_timeout, int | float) else self._timeout
        try:
            async with self._client().request(
                method, url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=total)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


class TelegramSender:
    """Sends replies through the Bot API (python-telegram-bot's ``Bot``)."""

    def __init__(self, settings: Settings) -> None:
        timeout = settings.provider_timeout_seconds
        self._requests = (AiohttpRequest(timeout=timeout), AiohttpRequest(timeout=timeout))
        self.bot = Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url.rstrip("/") + "/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],  # unused (webhooks), but not httpx
        )

    async def send(
        self,
        chat_id: int | str,
        reply: Reply,
        *,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Send ``reply``; ``provider_message_id`` is ``"<chat id>:<message id>"``.

        Plain text (every announcement) is posted through the library's request object
        (its errors, the same exceptions) without building its ``Message`` from the
        answer, which cost about a third of a send's CPU; a reply with a keyboard goes
        through ``Bot.send_message``."""
        markup = reply_markup(reply)
        try:
            with idempotent(idempotency_key):
                if markup is None:
                    return await self._send_text(chat_id, reply.as_plain_text())
                message = await self.bot.send_message(
                    chat_id=chat_id, text=reply.as_plain_text(), reply_markup=markup
                )
        except TelegramError as exc:
            raise classify_error(exc) from exc
        return SendResult(provider_message_id=f"{message.chat_id}:{message.message_id}")

    async def _send_text(self, chat_id: int | str, text: str) -> SendResult:
        data = RequestData(
            [
                RequestParameter.from_input("chat_id", chat_id),
                RequestParameter.from_input("text", text),
            ]
        )
        result = await self._requests[0].post(f"{self.bot.base_url}/sendMessage", data)
        message = result if isinstance(result, dict) else {}
        chat = message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat or "message_id" not in message:
            raise TelegramError(f"unexpected sendMessage answer: {str(result)[:200]}")
        return SendResult(provider_message_id=f"{chat['id']}:{message['message_id']}")

    async def answer_callback(self, callback_query_id: str, text: str | None = None) -> None:
        """Stop the button's spinner; failures are logged, never raised (the press was
        already handled)."""
        try:
            await self.bot.answer_callback_query(callback_query_id, text=text)
        except TelegramError as exc:
            log.info("telegram: answerCallbackQuery failed: %s", exc.message)

    async def set_webhook(self, url: str, secret_token: str) -> None:
        try:
            await self.bot.set_webhook(
                url, secret_token=secret_token, allowed_updates=["message", "callback_query"]
            )
        except TelegramError as exc:
            raise classify_error(exc) from exc

    async def close(self) -> None:
        await self.bot.shutdown()
        for request in self._requests:  # the bot skips them when never initialised
            await request.shutdown()
