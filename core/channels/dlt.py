"""SMS in India through a DLT-registered provider, shaped like Exotel's SMS API.

Every message carries the registered entity id (PE-ID), the approved header (sender id,
sent as ``From``) and the approved template id; Tamil text goes as
``EncodingType=unicode``. DLT rejections (codes 600–632) surface as permanent failures
with the code and its meaning.

Webhook authenticity: Exotel does not sign its callbacks. The reverse proxy in front of
us (or the provider, where it can) adds ``X-VCK-Timestamp`` (Unix seconds, when it
signed) and ``X-VCK-Signature``, the hex HMAC-SHA256 keyed with ``dlt_webhook_secret`` of
``"<timestamp>." + raw body``. We refuse a callback without both, with a wrong
signature, or signed more than :data:`REPLAY_WINDOW_SECONDS` from now: a captured
callback cannot be replayed later. What the proxy itself must check before it signs
(it vouches for what it signs) is in docs/dlt-webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import phonenumbers

from core.channels.base import (
    IDEMPOTENCY_HEADER,
    Channel,
    InboundMessage,
    Outcome,
    SendError,
    SendResult,
    request_in_doubt,
)
from core.channels.errors import (
    DeliveryStatus,
    MalformedPayload,
    StatusUpdate,
    basic_auth_header,
    parse_retry_after,
)
from core.channels.sms_text import segments
from core.config import Settings

PROVIDER = "dlt"
SIGNATURE_HEADER = "X-VCK-Signature"
TIMESTAMP_HEADER = "X-VCK-Timestamp"
REPLAY_WINDOW_SECONDS = 300
"""How far a callback's signing time may be from ours (clock skew and queueing
included): older ones are replays."""

DLT_REJECTIONS: dict[int, str] = {
    600: "ENTITY_NOT_FOUND: no record for this entity id",
    601: "ENTITY_NOT_REGISTERED: the entity is not on the DLT platform",
    602: "ENTITY_INACTIVE: the entity is inactive on the DLT platform",
    603: "ENTITY_BLACKLISTED: the entity is blacklisted",
    604: "INVALID_ENTITY_ID: wrong entity id format or no entity id",
    610: "TELEMARKETER_NOT_REGISTERED: the telemarketer is not on the DLT platform",
    611: "TELEMARKETER_INACTIVE: the telemarketer is inactive",
    612: "TELEMARKETER_BLACKLISTED: the telemarketer is blacklisted",
    620: "HEADER_NOT_FOUND: the sender id (header) is not registered",
    621: "HEADER_INACTIVE: the sender id (header) is inactive",
    622: "HEADER_BLACKLISTED: the sender id (header) is blacklisted",
    623: "PEID_NOT_MATCHED_WITH_HEADER: the header is not registered to this entity",
    630: "TEMPLATE_NOT_FOUND: no approved template with this id matches the text",
    631: "TEMPLATE_INACTIVE: the template is inactive",
    632: "TEMPLATE_BLACKLISTED: the template is blacklisted",
}
"""The DLT platform's rejection codes (600–632); the gaps are reserved ranges."""


def dlt_reason(code: int) -> str:
    if code in DLT_REJECTIONS:
        return DLT_REJECTIONS[code]
    if 600 <= code <= 609:
        return "DLT entity rejection"
    if 610 <= code <= 619:
        return "DLT telemarketer rejection"
    if 620 <= code <= 629:
        return "DLT header rejection"
    if 630 <= code <= 639:
        return "DLT template rejection"
    return "rejected by the SMS provider"


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def status_outcome(error_code: str | None) -> Outcome:
    """What a failed delivery report means: the DLT provider's codes (DND, rejections)
    all end the message, and none says "another channel" or "opted out"."""
    return Outcome.PERMANENT


def classify(status: int, code: object, retry_after: str | None, message: str = "") -> SendError:
    """Map the provider's HTTP status and error code to a :class:`SendError`.

    ``status`` 0 means no answer (timeout or connection failure)."""
    number = _int(code)
    if number is not None and 600 <= number <= 639:
        return SendError(
            f"dlt {number}: {dlt_reason(number)}", code=str(number), outcome=Outcome.PERMANENT
        )
    label = str(code) if code not in (None, "") else str(status or "timeout")
    text = f"dlt: HTTP {status} {message}".strip()
    if status in (0, 408, 429) or status >= 500:
        return SendError(text, code=label, retry_after=parse_retry_after(retry_after))
    return SendError(text, code=label, outcome=Outcome.PERMANENT)


# --- inbound -------------------------------------------------------------------------


def e164(raw: str, default_region: str = "IN") -> str:
    """An Indian provider's number (``09876543210``, ``919876543210``, ``+91…``) in E.164."""
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise MalformedPayload(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise MalformedPayload(f"not a phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def canonical_form(params: Mapping[str, str]) -> bytes:
    """The bytes signed when only parsed form fields are at hand: sorted, URL-encoded."""
    return urlencode(sorted(params.items())).encode()


def sign(secret: str, body: bytes | str | Mapping[str, str], timestamp: int | str) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + raw body`` (or of :func:`canonical_form` for
    a mapping)."""
    if isinstance(body, Mapping):
        body = canonical_form(body)
    elif isinstance(body, str):
        body = body.encode()
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    params_or_body: bytes | str | Mapping[str, str],
    signature_header: str | None,
    timestamp_header: str | None,
    *,
    now: float | None = None,
) -> bool:
    """True when ``X-VCK-Signature`` (optionally ``sha256=``-prefixed) is the HMAC of the
    timestamp and the raw body, and ``X-VCK-Timestamp`` is within the replay window of
    ``now``. Pass the raw body whenever you have it."""
    if not secret or not signature_header or not timestamp_header:
        return False
    if not signature_header.isascii() or not timestamp_header.isascii():
        return False  # a hex digest is ASCII; compare_digest raises on other text
    stamp = timestamp_header.strip()
    if not stamp.isdigit() or len(stamp) > 12:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > REPLAY_WINDOW_SECONDS:
        return False
    given = signature_header.strip().removeprefix("sha256=").lower().encode("ascii")
    return hmac.compare_digest(sign(secret, params_or_body, stamp).encode("ascii"), given)


def parse_inbound(
    params: Mapping[str, str], *, received_at: datetime | None = None
) -> InboundMessage:
    """An inbound SMS to our virtual number (``SmsSid``, ``From``, ``To``, ``Body``, ``Date``)."""
    sid, sender = params.get("SmsSid"), params.get("From")
    if not sid or not sender:
        raise MalformedPayload("SmsSid and From are required")
    return InboundMessage(
        channel=Channel.SMS,
        address=e164(sender),
        provider=PROVIDER,
        provider_message_id=sid,
        received_at=received_at or datetime.now(UTC),
        text=unicodedata.normalize("NFC", (params.get("Body") or "").strip()),
    )


_DLT_STATUS = {
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "submitted": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.FAILED,
    "failed_dnd": DeliveryStatus.FAILED,
    "failed-dnd": DeliveryStatus.FAILED,
    "expired": DeliveryStatus.UNDELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
}


def parse_status_callback(params: Mapping[str, str]) -> StatusUpdate:
    """A delivery report (``SmsSid``, ``Status``, ``DetailedStatusCode``, ``DetailedStatus``).
    ``failed-dnd`` fails with error code ``dnd`` when the provider gives no code."""
    sid, raw = params.get("SmsSid"), (params.get("Status") or "").lower()
    if not sid or not raw:
        raise MalformedPayload("SmsSid and Status are required")
    status = _DLT_STATUS.get(raw)
    if status is None:
        raise MalformedPayload(f"unknown Status {raw!r}")
    code = params.get("DetailedStatusCode") or None
    if status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
        code = code or ("dnd" if "dnd" in raw else None)
    else:
        code = None
    to = params.get("To")
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=sid,
        status=status,
        error_code=code,
        address=e164(to) if to else None,
        detail=params.get("DetailedStatus") or None,
        outcome=status_outcome(code)
        if status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
        else None,
    )


# --- sending -------------------------------------------------------------------------


class DltSender:
    """Sends SMS through the DLT provider's REST API (aiohttp client)."""

    def __init__(self, settings: Settings) -> None:
        self.url = (
            f"{settings.dlt_api_base_url.rstrip('/')}/v1/Accounts/"
            f"{settings.dlt_account_sid}/Sms/send.json"
        )
        self.auth = basic_auth_header(
            settings.dlt_api_key, settings.dlt_api_token.get_secret_value()
        )
        self.sender_id = settings.dlt_sender_id
        self.entity_id = settings.dlt_entity_id
        self.timeout = aiohttp.ClientTimeout(total=settings.provider_timeout_seconds)
        self._shared: dict[tuple[str, str, str | None], tuple[Any, str]] = {}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"Authorization": self.auth}
            )
        return self._session

    async def send(
        self,
        address: str,
        text: str,
        *,
        template_id: str,
        status_callback: str | None = None,
        custom_field: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Send ``text`` (which must match the approved template ``template_id``)."""
        cost, common = self._common(text, template_id, status_callback)
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if idempotency_key:
                headers[IDEMPOTENCY_HEADER] = idempotency_key
            # Encoded here: aiohttp's FormData costs more CPU than the rest of a send.
            own = {"To": address, "CustomField": custom_field} if custom_field else {"To": address}
            body = f"{urlencode(own)}&{common}".encode()
            async with self._client().post(self.url, data=body, headers=headers) as response:
                payload = await _json(response)
                if response.status >= 400:
                    error = payload.get("RestException") or {}
                    raise classify(
                        response.status,
                        error.get("Code"),
                        response.headers.get("Retry-After"),
                        str(error.get("Message") or ""),
                    )
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = classify(0, None, None, type(exc).__name__)
            error.in_doubt = request_in_doubt(exc)
            raise error from exc
        sms = payload.get("SMSMessage") or {}
        if not sms.get("Sid"):
            raise SendError("dlt: no SMSMessage.Sid in the answer", code="bad-response")
        if str(sms.get("Status", "")).lower().startswith("failed"):
            code = sms.get("DetailedStatusCode")
            raise classify(400, code, None, str(sms.get("DetailedStatus") or ""))
        return SendResult(provider_message_id=str(sms["Sid"]), parts=cost.parts)

    def _common(self, text: str, template_id: str, status_callback: str | None) -> tuple[Any, str]:
        """The text's segments and the url-encoded fields every member of an
        announcement shares (sender, text, template, callback): computed once."""
        key = (text, template_id, status_callback)
        found = self._shared.get(key)
        if found is None:
            cost = segments(text)
            form = {
                "From": self.sender_id,
                "Body": text,
                "DltEntityId": self.entity_id,
                "DltTemplateId": template_id,
                "EncodingType": "unicode" if cost.is_unicode else "plain",
            }
            if status_callback:
                form["StatusCallback"] = status_callback
            if len(self._shared) >= 256:
                self._shared.clear()
            found = self._shared[key] = (cost, urlencode(form))
        return found

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
