"""WhatsApp and SMS through Twilio: verify, parse, render, send, map error codes.

Inbound webhooks are form-encoded and signed with ``X-Twilio-Signature`` over the
*public* URL (the configured ``public_base_url`` plus the path), so validation works
behind a proxy. Outbound uses the real SDK's async client with an HTTP client that
sends every request (api.twilio.com and content.twilio.com alike) to the configured
``twilio_api_base_url`` -- the local fake in tests -- and applies our own timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import time
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from multidict import MultiDict
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from core.channels.base import (
    Channel,
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
from core.channels.errors import (
    DeliveryStatus,
    MalformedPayload,
    StatusUpdate,
    basic_auth_header,
    parse_retry_after,
)
from core.config import Settings

log = logging.getLogger(__name__)

PROVIDER = "twilio"
WHATSAPP_PREFIX = "whatsapp:"
_E164 = re.compile(r"^\+[1-9]\d{3,14}$")

# --- inbound -------------------------------------------------------------------------


def public_url(public_base_url: str, path_qs: str) -> str:
    """The URL Twilio called and signed: our public base URL plus the request path
    (with its query string), not the address the proxy forwarded to."""
    return public_base_url.rstrip("/") + "/" + path_qs.lstrip("/")


def verify_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """True when ``X-Twilio-Signature`` matches ``url`` (see :func:`public_url`) and the
    form ``params``; a missing signature never matches, nor one that is not ASCII (a
    base64 digest is)."""
    if not signature or not auth_token or not signature.isascii():
        return False
    # A MultiDict: the validator reads repeated fields with ``getall``; on a plain dict
    # it finds each value by catching two exceptions, a third of a webhook's CPU.
    return bool(RequestValidator(auth_token).validate(url, MultiDict(params), signature))


def _text(value: str | None) -> str:
    return unicodedata.normalize("NFC", (value or "").strip())


def _address(raw: str) -> tuple[Channel, str]:
    channel = Channel.SMS
    if raw.startswith(WHATSAPP_PREFIX):
        channel, raw = Channel.WHATSAPP, raw[len(WHATSAPP_PREFIX) :]
    if not _E164.match(raw):
        raise MalformedPayload(f"not an E.164 address: {raw!r}")
    return channel, raw


def _coordinate(params: Mapping[str, str], name: str, limit: float) -> float:
    try:
        value = float(params[name])
    except (TypeError, ValueError) as exc:
        raise MalformedPayload(f"{name} is not a number") from exc
    if not math.isfinite(value) or abs(value) > limit:
        raise MalformedPayload(f"{name} out of range")
    return value


SMS_OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
"""Twilio blocks every further SMS from the number to a sender who texts one of these
(its default opt-out handling on long codes), and still forwards the message."""


def _sms_opt_out(params: Mapping[str, str], text: str) -> bool | None:
    """What Twilio did with an inbound SMS: ``OptOutType`` when Advanced Opt-Out is on,
    else its default keywords. WhatsApp has no such handling."""
    kind = (params.get("OptOutType") or "").upper()
    if kind in ("STOP", "START"):
        return kind == "STOP"
    return True if text.casefold().strip(" .!") in SMS_OPT_OUT_WORDS else None


def parse_inbound(params: Mapping[str, str], *, received_at: datetime) -> InboundMessage:
    """One inbound WhatsApp or SMS webhook as an :class:`InboundMessage`."""
    sid, sender = params.get("MessageSid"), params.get("From")
    if not sid or not sender:
        raise MalformedPayload("MessageSid and From are required")
    channel, address = _address(sender)
    num_media = params.get("NumMedia", "0") or "0"
    if not num_media.isdigit():
        raise MalformedPayload("NumMedia is not a number")
    location = None
    has_lat, has_lon = "Latitude" in params, "Longitude" in params
    if has_lat != has_lon:
        raise MalformedPayload("Latitude and Longitude come together")
    if has_lat:
        location = Location(
            latitude=_coordinate(params, "Latitude", 90.0),
            longitude=_coordinate(params, "Longitude", 180.0),
            label=_text(params.get("Label") or params.get("Address")) or None,
        )
    choice = params.get("ButtonPayload") or params.get("ListId") or None
    text = _text(params.get("Body"))
    media = tuple(
        Media(
            kind=_media_kind(params.get(f"MediaContentType{i}")),
            reference=params[f"MediaUrl{i}"],
            content_type=params.get(f"MediaContentType{i}") or None,
        )
        for i in range(min(int(num_media), 10))
        if params.get(f"MediaUrl{i}")
    )
    return InboundMessage(
        channel=channel,
        address=address,
        provider=PROVIDER,
        provider_message_id=sid,
        received_at=received_at,
        text=text,
        location=location,
        choice_id=choice,
        replied_to=(params.get("OriginalRepliedMessageSid") or None) if choice else None,
        profile_name=_text(params.get("ProfileName")) or None,
        provider_opt_out=_sms_opt_out(params, text) if channel is Channel.SMS else None,
        media=media,
    )


def _media_kind(content_type: str | None) -> str:
    """A WhatsApp image is a photo as WhatsApp re-encoded it; anything else sent as a
    file keeps its own bytes."""
    major = (content_type or "").split("/", 1)[0].lower()
    return major if major in ("image", "audio", "video") else "document"


_TWILIO_STATUS = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.UNDELIVERED,
}


def parse_status_callback(params: Mapping[str, str]) -> StatusUpdate:
    """A message status callback (queued → sent → delivered → read, or failed/undelivered
    with ``ErrorCode``)."""
    sid = params.get("MessageSid") or params.get("SmsSid")
    raw_status = params.get("MessageStatus") or params.get("SmsStatus")
    if not sid or not raw_status:
        raise MalformedPayload("MessageSid and MessageStatus are required")
    status = _TWILIO_STATUS.get(raw_status.lower())
    if status is None:
        raise MalformedPayload(f"unknown MessageStatus {raw_status!r}")
    error_code = params.get("ErrorCode") or None
    if error_code is not None and not error_code.isdigit():
        raise MalformedPayload("ErrorCode is not a number")
    to = params.get("To") or ""
    failed = status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=sid,
        status=status,
        error_code=error_code,
        address=to.removeprefix(WHATSAPP_PREFIX) or None,
        outcome=status_outcome(error_code) if failed or error_code else None,
    )


# --- rendering -----------------------------------------------------------------------


def render_text(reply: Reply, channel: Channel) -> str:
    """The reply as text on either Twilio channel: choices as a numbered list (which
    WhatsApp's native buttons keep, see :meth:`TwilioSender.send_text`)."""
    return reply.as_plain_text()


# --- errors --------------------------------------------------------------------------

OPTED_OUT_CODES = frozenset({21610})
"""The recipient replied STOP."""
OUTSIDE_WINDOW_CODE = 63016
"""Free-form WhatsApp outside the 24-hour window: the caller sends a template instead."""
UNREACHABLE_CODES = frozenset({21211, 21217, 21612, 21614, 30003, 30005, 30006, 63003, 63024})
"""Not a valid, mobile or WhatsApp-capable recipient: try another channel."""
THROTTLED_CODES = frozenset({20429, 63018, 130429, 131056})


def status_outcome(error_code: str | None) -> Outcome:
    """What a failed or undelivered status callback's ``ErrorCode`` means. A callback
    reports the end of one message, so it is never :attr:`Outcome.RETRY`."""
    code = int(error_code) if error_code and error_code.isdigit() else None
    if code in OPTED_OUT_CODES:
        return Outcome.OPTED_OUT
    if code == OUTSIDE_WINDOW_CODE:
        return Outcome.OUTSIDE_WINDOW
    if code in UNREACHABLE_CODES:
        return Outcome.UNREACHABLE
    return Outcome.PERMANENT


def classify(status: int, code: int | None, retry_after: str | None) -> SendError:
    """Map an HTTP status and Twilio error code to a :class:`SendError`.

    ``status`` 0 means no answer (timeout or connection failure)."""
    label = str(code) if code else str(status or "timeout")
    message = f"twilio: HTTP {status}, code {code}"
    if code in OPTED_OUT_CODES:
        return SendError(message, code=label, outcome=Outcome.OPTED_OUT)
    if code == OUTSIDE_WINDOW_CODE:
        return SendError(message, code=label, outcome=Outcome.OUTSIDE_WINDOW)
    if code in UNREACHABLE_CODES:
        return SendError(message, code=label, outcome=Outcome.UNREACHABLE)
    if code in THROTTLED_CODES or status in (0, 408, 429) or status >= 500:
        return SendError(message, code=label, retry_after=parse_retry_after(retry_after))
    return SendError(message, code=label, outcome=Outcome.PERMANENT)


# --- the HTTP client the SDK talks through -------------------------------------------


@dataclass
class _ResponseNote:
    retry_after: str | None = None


_response_note: ContextVar[_ResponseNote | None] = ContextVar("twilio_response", default=None)


class RoutedHttpClient(AsyncTwilioHttpClient):
    """The SDK's async HTTP client, sending every Twilio host to ``api_base_url`` (scheme,
    host and path prefix; the request path is kept) with ``timeout_seconds`` per request.

    It also notes the ``Retry-After`` header for :func:`classify`, which the SDK's
    ``TwilioRestException`` does not carry, and sends JSON bodies (Content API) as JSON.
    """

    def __init__(self, *, api_base_url: str, timeout_seconds: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout_seconds)
        base = urlsplit(api_base_url)
        self._base = None if (base.hostname or "").endswith("twilio.com") else base
        self._client_timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._own_session: aiohttp.ClientSession | None = None

    def route(self, url: str) -> str:
        parts = urlsplit(url)
        if self._base is None or not (parts.hostname or "").endswith("twilio.com"):
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature; ours applies
        allow_redirects: bool = False,
    ) -> Response:
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession(timeout=self._client_timeout)
        headers = request_headers(dict(headers or {}))
        body: dict[str, Any] = {}
        if data is not None and headers.get("Content-Type") == "application/json":
            body = {"json": data}
        elif data is not None:
            # Encoded here: aiohttp's FormData costs a quarter of a send's CPU.
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = {"data": urlencode(data, doseq=True).encode()}
        if auth:
            headers["Authorization"] = basic_auth_header(*auth)
        async with self._own_session.request(
            method.upper(),
            self.route(url),
            params=params,  # type: ignore[arg-type]
            headers=headers,
            allow_redirects=allow_redirects,
            **body,
        ) as response:
            text = await response.text()
            note = _response_note.get()
            if note is not None:
                note.retry_after = response.headers.get("Retry-After")
            return Response(response.status, text, dict(response.headers))

    async def post_form(
        self, url: str, form: bytes, auth: tuple[str, str], note: _ResponseNote
    ) -> tuple[int, Any]:
        """POST the url-encoded ``form`` as the SDK would (its headers, basic auth, the
        idempotency key of the current block) and return the status and the parsed JSON
        answer (None when it is not JSON); the ``Retry-After`` header goes into
        ``note``."""
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession(timeout=self._client_timeout)
        headers = request_headers(dict(_SDK_HEADERS))
        headers["Authorization"] = basic_auth_header(*auth)
        async with self._own_session.post(self.route(url), data=form, headers=headers) as response:
            note.retry_after = response.headers.get("Retry-After")
            raw = await response.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
            return response.status, payload

    async def close(self) -> None:
        if self._own_session is not None:
            await self._own_session.close()


_MESSAGE_FORM = {
    "to": "To",
    "from_": "From",
    "body": "Body",
    "content_sid": "ContentSid",
    "content_variables": "ContentVariables",
    "status_callback": "StatusCallback",
}
"""The SDK's ``messages.create`` arguments we use, as the API's form fields."""

_SDK_HEADERS = {
    "User-Agent": "twilio-python (vck-connect)",
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded",
}


# --- sending -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message of Twilio's Message list."""

    sid: str
    body: str
    status: str
    date_sent: datetime | None


QUICK_REPLY_MAX, LIST_PICKER_MAX = 3, 10
QUICK_REPLY_TITLE_LEN, LIST_ITEM_LEN = 20, 24
CONTENT_RETRY_SECONDS = 300.0
_TAMIL = re.compile(r"[\u0B80-\u0BFF]")


def has_native_choices(reply: Reply) -> bool:
    """Whether WhatsApp shows the reply's choices as quick replies or a list picker."""
    n = len(reply.choices)
    if not reply.stored_choices or n == 0:
        return False
    return n <= QUICK_REPLY_MAX or (n <= LIST_PICKER_MAX and reply.list_button is not None)


class TwilioSender:
    """Sends WhatsApp and SMS through the Twilio REST API (real SDK, async client)."""

    def __init__(self, settings: Settings) -> None:
        self.whatsapp_from = settings.twilio_whatsapp_from
        self.sms_from = settings.twilio_sms_from
        self.http = RoutedHttpClient(
            api_base_url=settings.twilio_api_base_url,
            timeout_seconds=settings.provider_timeout_seconds,
        )
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self.http,
        )
        # The SDK imports its API modules on first use (~0.1 s): not on a member's reply.
        _ = self.client.api.v2010.account.messages
        self._messages_url = (
            f"https://api.twilio.com/2010-04-01/Accounts/{settings.twilio_account_sid}"
            "/Messages.json"
        )
        self._auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
        self._encoded: dict[tuple[tuple[str, str], ...], str] = {}
        self._contents: dict[tuple[Any, ...], str] = {}
        self._content_failed_at: dict[tuple[Any, ...], float] = {}
        self._content_lock = asyncio.Lock()

    async def _call(self, coro: Any) -> Any:
        """Run one SDK call, turning every failure into a :class:`SendError`."""
        note = _ResponseNote()
        token = _response_note.set(note)
        try:
            return await coro
        except TwilioRestException as exc:
            raise classify(exc.status, exc.code, note.retry_after) from exc
        except TwilioServiceException as exc:
            raise classify(exc.status, exc.code, note.retry_after) from exc
        except TwilioException as exc:  # a list page the SDK could not read (any status)
            raise SendError(f"twilio: {exc}"[:200], code="error") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = classify(0, None, None)
            error.in_doubt = request_in_doubt(exc)
            raise error from exc
        finally:
            _response_note.reset(token)

    async def _create(self, idempotency_key: str | None, **fields: Any) -> SendResult:
        """Create a Message: the SDK's request (same URL, form, auth and headers), posted
        and read by us — building the SDK's ``MessageInstance`` cost more CPU than the
        HTTP request itself (issue 10.7)."""
        form = {_MESSAGE_FORM[k]: v for k, v in fields.items() if v is not None}
        note = _ResponseNote()
        with idempotent(idempotency_key):
            try:
                status, payload = await self.http.post_form(
                    self._messages_url, self._encode(form), self._auth, note
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                error = classify(0, None, None)
                error.in_doubt = request_in_doubt(exc)
                raise error from exc
        if status >= 400 or not isinstance(payload, dict) or not payload.get("sid"):
            code = payload.get("code") if isinstance(payload, dict) else None
            raise classify(status, code if isinstance(code, int) else None, note.retry_after)
        segments = str(payload.get("num_segments") or "")
        parts = int(segments) if segments.isdigit() else 1
        return SendResult(provider_message_id=str(payload["sid"]), parts=max(parts, 1))

    def _encode(self, form: dict[str, str]) -> bytes:
        """The form url-encoded; all but ``To`` is the same for a whole announcement
        (sender, template, text, callback), so that part is encoded once."""
        to = urlencode({"To": form.pop("To", "")})
        rest = tuple(form.items())
        encoded = self._encoded.get(rest)
        if encoded is None:
            if len(self._encoded) >= 256:
                self._encoded.clear()
            encoded = self._encoded[rest] = urlencode(rest)
        return f"{to}&{encoded}".encode() if encoded else to.encode()

    async def sent_to(
        self, channel: Channel, address: str, *, since: datetime, limit: int = 50
    ) -> list[SentMessage]:
        """The messages Twilio accepted for ``address`` on ``channel`` and sent on or
        after ``since`` (the Message list filtered by ``To`` and ``DateSent>=``), newest
        first: what a worker that died with a message in flight asks before sending it
        again. A message Twilio has accepted but not yet sent has no ``DateSent`` and is
        not listed. Raises :class:`SendError` when Twilio cannot be asked."""
        to, _ = self._route(channel, address)
        found = await self._call(
            self.client.messages.list_async(to=to, date_sent_after=since, limit=limit)
        )
        return [
            SentMessage(
                sid=str(m.sid),
                body=str(m.body or ""),
                status=str(m.status or ""),
                date_sent=m.date_sent,
            )
            for m in found
        ]

    def _route(self, channel: Channel, address: str) -> tuple[str, str]:
        if channel == Channel.WHATSAPP:
            return WHATSAPP_PREFIX + address, self.whatsapp_from
        if channel == Channel.SMS:
            return address, self.sms_from
        raise ValueError(f"Twilio does not carry {channel}")

    async def send_text(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        status_callback: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Send a reply as free-form text. On WhatsApp, 1–3 choices go as native quick
        replies and 4–10 as a list picker (when the reply has a ``list_button``), see
        :func:`has_native_choices`; the text always keeps the numbered list, and
        creation failures fall back to plain text.
        ``idempotency_key`` goes with the message (not with a quick reply's content)."""
        to, from_ = self._route(channel, address)
        body = render_text(reply, channel)
        content_sid = None
        if channel == Channel.WHATSAPP and has_native_choices(reply):
            content_sid = await self.interactive_content(reply)
        if content_sid:
            return await self._create(
                idempotency_key,
                to=to,
                from_=from_,
                content_sid=content_sid,
                content_variables=json.dumps({"1": body}, ensure_ascii=False),
                status_callback=status_callback,
            )
        return await self._create(
            idempotency_key, to=to, from_=from_, body=body, status_callback=status_callback
        )

    async def send_template(
        self,
        address: str,
        content_sid: str,
        variables: dict[str, str],
        status_callback: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """A pre-approved WhatsApp template (outside the 24-hour window): ContentSid and
        ContentVariables, no Body."""
        return await self._create(
            idempotency_key,
            to=WHATSAPP_PREFIX + address,
            from_=self.whatsapp_from,
            content_sid=content_sid,
            content_variables=json.dumps(variables, ensure_ascii=False),
            status_callback=status_callback,
        )

    async def interactive_content(self, reply: Reply) -> str | None:
        """The ContentSid of a quick-reply or list-picker whose body is variable {{1}},
        created once per set of choices; None when the choices cannot be native or
        the Content API failed (retried after a few minutes)."""
        n = len(reply.choices)
        if n <= QUICK_REPLY_MAX:
            kind = "twilio/quick-reply"
        elif n <= LIST_PICKER_MAX and reply.list_button:
            kind = "twilio/list-picker"
        else:
            return None
        key = (kind, reply.list_button, tuple((c.id, c.label) for c in reply.choices))
        if key in self._contents:
            return self._contents[key]
        failed_at = self._content_failed_at.get(key)
        if failed_at is not None and time.monotonic() - failed_at < CONTENT_RETRY_SECONDS:
            return None
        async with self._content_lock:
            if key in self._contents:
                return self._contents[key]
            try:
                content = await self._call(
                    self.client.content.v1.contents.create_async(
                        ContentList.ContentCreateRequest(_content_request(kind, key, reply))
                    )
                )
            except SendError as exc:
                log.warning("twilio content creation failed (%s); sending plain text", exc.code)
                self._content_failed_at[key] = time.monotonic()
                return None
            self._contents[key] = content.sid
            return str(content.sid)

    async def close(self) -> None:
        await self.http.close()


def _numbered(n: int, label: str, limit: int) -> str:
    title = f"{n}. {label}"
    if len(title) <= limit:
        return title
    cut = limit - 1
    # Never inside a letter: a vowel sign or virama (கா, க்) goes with its consonant.
    while cut > 0 and unicodedata.category(title[cut]) in ("Mn", "Mc"):
        cut -= 1
    return title[:cut] + "…"


def _content_request(kind: str, key: tuple[Any, ...], reply: Reply) -> dict[str, Any]:
    labels = " ".join(c.label for c in reply.choices)
    name = "vck-" + hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    if kind == "twilio/quick-reply":
        body: dict[str, Any] = {
            "body": "{{1}}",
            "actions": [
                {"title": _numbered(n, c.label, QUICK_REPLY_TITLE_LEN), "id": c.id}
                for n, c in enumerate(reply.choices, 1)
            ],
        }
    else:
        body = {
            "body": "{{1}}",
            "button": key[1],
            "items": [
                {"id": c.id, "item": _numbered(n, c.label, LIST_ITEM_LEN)}
                for n, c in enumerate(reply.choices, 1)
            ],
        }
    return {
        "friendly_name": name,
        "language": "ta" if _TAMIL.search(labels) else "en",
        "variables": {"1": "text"},
        "types": {kind: body},
    }
