"""One message shape for every channel.

Inbound, each adapter turns a provider payload into one frozen :class:`InboundMessage`.
Outbound, flows return abstract :class:`Reply` objects and each adapter renders them for
its channel. Flows never see a provider payload.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import aiohttp

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Sent with a message's provider request, the same on every attempt of that message: a
provider that honours it (the fakes with ``idempotent=True``; real providers do not, see
docs/notifier.md) answers a repeat with the message it already accepted instead of
sending a second one."""

_request_key: ContextVar[str | None] = ContextVar("vck_request_key", default=None)


@contextlib.contextmanager
def idempotent(key: str | None) -> Iterator[None]:
    """Within the block, the adapter's HTTP client sends ``key`` as
    :data:`IDEMPOTENCY_HEADER` (for SDKs whose calls take no headers of ours)."""
    token = _request_key.set(key)
    try:
        yield
    finally:
        _request_key.reset(token)


def request_headers(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus the idempotency key of the current block, if any."""
    key = _request_key.get()
    return {**headers, IDEMPOTENCY_HEADER: key} if key else headers


class Channel(enum.StrEnum):
    WHATSAPP = "whatsapp"
    SMS = "sms"
    TELEGRAM = "telegram"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    label: str | None = None
    accuracy_m: float | None = None
    """Telegram's ``horizontal_accuracy`` (0-1,500 m); None where the channel gives none."""
    forwarded: bool = False
    """Telegram: the message was forwarded (``forward_origin``), so not the sender's own."""
    sent_at: datetime | None = None
    """Telegram: the message's own date, to refuse an old location sent late."""


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact card shared on Telegram: the user's own phone when ``user_id`` matches
    the sender."""

    phone: str
    first_name: str | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """A photo, voice note or file that came with a message, by reference: the provider
    keeps the bytes (Twilio's media URL, Telegram's file id); nothing is downloaded."""

    kind: str
    """``image`` (a photo: WhatsApp and Telegram re-encode photos and drop their EXIF
    metadata, location included), ``audio`` (a voice note), ``video`` or ``document``
    (a file as sent, metadata and all)."""
    reference: str
    content_type: str | None = None
    size: int | None = None
    """Bytes, when the provider says (Telegram does; Twilio's webhook does not)."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    address: str
    """Who wrote: E.164 phone for WhatsApp, SMS and console; the chat id on Telegram."""
    provider: str
    """Which provider carried it: twilio, telegram, dlt, console."""
    provider_message_id: str
    received_at: datetime
    text: str = ""
    location: Location | None = None
    contact: Contact | None = None
    choice_id: str | None = None
    """A button or list reply's payload (Twilio ``ButtonPayload``, Telegram callback data)."""
    sender_user_id: int | None = None
    """Telegram: the sending user's id, to check a shared contact is their own."""
    profile_name: str | None = None
    provider_opt_out: bool | None = None
    """The provider itself acted on this message: True when it opted the sender out of
    further messages (Twilio SMS keywords such as CANCEL or QUIT), False when it opted
    them back in. The conversation must then treat it as STOP or START."""
    replied_to: str | None = None
    """For a button press, the provider's id of the message the button was on (Twilio
    ``OriginalRepliedMessageSid``; Telegram ``"<chat id>:<message id>"``): a button
    from an earlier screen is recognised as stale (bot/asked.py)."""
    media: tuple[Media, ...] = ()
    """Photos, voice notes and files sent with the message (an SMS has none)."""
    private_chat: bool = True
    """False for a Telegram group: everyone in it would share one conversation and one
    identity (anyone could press an official's buttons), so the bot does not talk there."""


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What a flow says back: text, optionally a numbered question, or a request for the
    member's location or contact."""

    text: str
    choices: tuple[Choice, ...] = ()
    ask_location: bool = False
    ask_contact: bool = False
    button: str | None = None
    """The label of the location or contact button, where the channel has one."""
    list_button: str | None = None
    """With 4-10 choices: the label of the button that opens them as a WhatsApp list
    (20 characters at most); without it they go as a numbered list in the text."""
    stored_choices: bool = True
    """Whether the choices may become WhatsApp interactive content (quick replies or a
    list), which Twilio keeps as a template for good. False for lists of people or of
    one-off things (signups waiting for verification, announcements): those go as a
    numbered list in the text."""

    def as_plain_text(self) -> str:
        """The reply as text any channel can show: choices as a numbered list."""
        if not self.choices:
            return self.text
        lines = [self.text, ""] if self.text else []
        lines += [f"{n}. {choice.label}" for n, choice in enumerate(self.choices, 1)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The reply as plain data (for the job queue), every field of it: written from
        the dataclass's own fields, so a field added later cannot be dropped on the way."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["choices"] = [[c.id, c.label] for c in self.choices]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """The reply :meth:`to_dict` wrote; fields it lacks take their defaults."""
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        values["choices"] = tuple(Choice(i, label) for i, label in data.get("choices", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str
    parts: int = 1


class Outcome(enum.StrEnum):
    """What a provider's refusal means, in no provider's words. Each adapter maps its own
    error codes (on a send and in a status callback) to one of these; what happens next
    is core.delivery_policy's to decide."""

    RETRY = "retry"
    """Not now (throttled, a 5xx, a timeout): the same message may go later."""
    OUTSIDE_WINDOW = "outside_window"
    """WhatsApp free text outside the 24-hour window: only an approved template goes."""
    UNREACHABLE = "unreachable"
    """This address cannot receive on this channel: try another channel."""
    OPTED_OUT = "opted_out"
    """The recipient told the provider to stop (STOP, a blocked bot)."""
    PERMANENT = "permanent"
    """This message will never go (bad template, bad request)."""


def request_in_doubt(exc: BaseException) -> bool:
    """Whether a client error without an answer leaves the request in doubt: every one
    but a connection that was never made (the request was never written)."""
    return not isinstance(exc, aiohttp.ClientConnectorError)


class SendError(Exception):
    """A send that failed, with the adapter's :class:`Outcome` and the provider's code
    (stored with a failed delivery); ``retry_after`` seconds when the provider gave it."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        outcome: Outcome = Outcome.RETRY,
        retry_after: float | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.outcome = outcome
        self.retry_after = retry_after
        self.in_doubt = in_doubt
        """No answer, but the request may have reached the provider (a timeout, a
        connection lost after the request was written): the message may have gone."""

    @property
    def permanent(self) -> bool:
        """Sending the same message again will not help."""
        return self.outcome is not Outcome.RETRY

    @property
    def unreachable(self) -> bool:
        return self.outcome is Outcome.UNREACHABLE

    @property
    def opted_out(self) -> bool:
        return self.outcome is Outcome.OPTED_OUT
