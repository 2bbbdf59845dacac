"""The payment gateway: Razorpay Payment Links and webhooks (FACTS.md "Donations").

Everything about Razorpay is here: creating a link (``POST /v1/payment_links``, amount
in paise, basic auth ``key_id:key_secret``), fetching one (``GET
/v1/payment_links/{id}``, for the reconciling job), checking a webhook's signature (hex
HMAC-SHA256 of the raw body under the webhook secret, ``X-Razorpay-Signature``) and
turning a webhook body into one provider-neutral :class:`GatewayEvent`. Donations never
see a Razorpay payload.

Razorpay signs three things differently; only the webhook marks a donation paid, so only
the webhook's signature is checked here (the checkout and callback signatures are for
pages we do not serve).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from core.channels.errors import MalformedPayload
from core.config import Settings

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"
PAID = "payment_link.paid"
PARTIALLY_PAID = "payment_link.partially_paid"
EXPIRED = "payment_link.expired"
CANCELLED = "payment_link.cancelled"
REFUNDED = "refund.processed"
MAX_EVENT_ID = 64


def sign_webhook(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, body: bytes, signature: str | None) -> bool:
    """True when ``signature`` is the hex HMAC-SHA256 of exactly these bytes."""
    if not signature or not secret:
        return False
    expected = sign_webhook(secret, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode("ascii", "replace"))


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """What a webhook (or a reconciling fetch) says, in our words."""

    event_id: str
    event: str
    link_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    amount_paise: int | None = None
    method: str | None = None
    at: datetime | None = None


def _entity(payload: dict[str, Any], name: str) -> dict[str, Any]:
    wrapped = payload.get(name)
    entity = wrapped.get("entity") if isinstance(wrapped, dict) else None
    return entity if isinstance(entity, dict) else {}


def _str(value: Any) -> str | None:
    return value[:40] if isinstance(value, str) and value else None


def _paise(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def parse_event(body: bytes, event_id: str | None) -> GatewayEvent:
    """A webhook body as a :class:`GatewayEvent`; :class:`MalformedPayload` (400) when it
    is not Razorpay's envelope or carries no event id."""
    if not event_id or len(event_id) > MAX_EVENT_ID:
        raise MalformedPayload("missing or overlong X-Razorpay-Event-Id")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload("body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise MalformedPayload("not a Razorpay event")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise MalformedPayload("event without payload")
    name = data["event"][:40]
    link = _entity(payload, "payment_link")
    payment = _entity(payload, "payment")
    refund = _entity(payload, "refund")
    if name == REFUNDED:
        return GatewayEvent(
            event_id,
            name,
            payment_id=_str(refund.get("payment_id")),
            refund_id=_str(refund.get("id")),
            amount_paise=_paise(refund.get("amount")),
            at=_moment(refund.get("created_at")),
        )
    return GatewayEvent(
        event_id,
        name,
        link_id=_str(link.get("id")),
        payment_id=_str(payment.get("id")),
        amount_paise=_paise(payment.get("amount")) or _paise(link.get("amount_paid")),
        method=_str(payment.get("method")),
        at=_moment(payment.get("created_at")) or _moment(data.get("created_at")),
    )


# --- the API -----------------------------------------------------------------------------


class GatewayError(Exception):
    """The gateway could not be reached or refused the request."""


@dataclass(frozen=True, slots=True)
class CreatedLink:
    id: str
    short_url: str


@dataclass(frozen=True, slots=True)
class LinkState:
    """A fetched link: its status and, when paid, the capturing payment."""

    id: str
    status: str
    payment: GatewayEvent | None


class RazorpayClient:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.razorpay_api_base_url.rstrip("/")
        credentials = (
            f"{settings.razorpay_key_id}:{settings.razorpay_key_secret.get_secret_value()}"
        )
        self.headers = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
        self.timeout = ClientTimeout(total=settings.provider_timeout_seconds)
        self._session: ClientSession | None = None

    def _client(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(timeout=self.timeout, headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict:
        try:
            async with self._client().request(method, self.base_url + path, json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status >= 300 or not isinstance(data, dict):
                    error = data.get("error") if isinstance(data, dict) else None
                    if not isinstance(error, dict):  # {"error": "Unauthorized"} happens too
                        error = {}
                    raise GatewayError(
                        f"{resp.status} {error.get('code', '')}: {error.get('description', '')}"
                    )
                return data
        except (ClientError, TimeoutError, ValueError) as exc:
            raise GatewayError(type(exc).__name__) from exc

    async def create_link(
        self,
        *,
        amount_paise: int,
        reference_id: str,
        description: str,
        name: str,
        contact: str,
        expire_by: datetime,
        notes: dict[str, str],
    ) -> CreatedLink:
        """A UPI-payable https link (never a raw ``upi://`` intent: FACTS.md); no partial
        payments; Razorpay sends no SMS or e-mail of its own (we talk to the donor).

        Razorpay's limits (docs, "Create a Standard Payment Link"): ``reference_id`` at
        most 40 characters and unique, ``description`` 2048, ``notes`` 15 pairs of at most
        255 characters (the page says 256 and its error says 255), ``expire_by`` 15 minutes
        to six months ahead (``VCK_DONATION_LINK_MINUTES``). A standard link, not
        ``upi_link``: UPI links cannot be made with test keys, and a standard link takes
        UPI as well."""
        data = await self._call(
            "POST",
            "/v1/payment_links",
            {
                "amount": amount_paise,
                "currency": "INR",
                "accept_partial": False,
                "reference_id": reference_id,
                "description": description[:2048],
                "customer": {"name": name[:100], "contact": contact},
                "notify": {"sms": False, "email": False},
                "reminder_enable": False,
                "expire_by": int(expire_by.timestamp()),
                "notes": {k: str(v)[:255] for k, v in list(notes.items())[:15]},
            },
        )
        short_url = str(data.get("short_url", ""))
        if not short_url.startswith("https://") or not data.get("id"):
            raise GatewayError("link without an https short_url")
        return CreatedLink(str(data["id"]), short_url)

    async def fetch_link(self, link_id: str) -> LinkState:
        data = await self._call("GET", f"/v1/payment_links/{link_id}")
        status = str(data.get("status", ""))
        captured = [
            p
            for p in (data.get("payments") or [])
            if isinstance(p, dict) and p.get("status") == "captured"
        ]
        payment = None
        if status == "paid" and captured:
            p = captured[0]
            payment = GatewayEvent(
                f"reconcile:{link_id}",
                PAID,
                link_id=link_id,
                payment_id=_str(p.get("payment_id")),
                amount_paise=_paise(p.get("amount")),
                method=_str(p.get("method")),
                at=_moment(p.get("created_at")),
            )
        return LinkState(link_id, status, payment)
