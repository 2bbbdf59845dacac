"""A fake Razorpay: Payment Links (``POST /v1/payment_links``, ``GET
/v1/payment_links/{id}``, basic auth ``key_id:key_secret``) and signed webhooks, with
the gateway's real delivery habits on demand: twice, late, out of order, and retried
with backoff while our server answers non-2xx; a webhook whose retries run out is
disabled, as Razorpay disables one that fails for 24 hours (``enable_webhook()``).

``python -m fakes.razorpay --port 58084 --webhook-url http://127.0.0.1:8080/webhooks/razorpay``;
point ``VCK_RAZORPAY_API_BASE_URL`` at it. ``POST /_fake/pay`` ``{"link_id": "plink_…",
"twice": true, "delay": 1}`` pays a link (``/_fake/refund`` ``{"payment_id": …}``,
``/_fake/expire`` ``{"link_id": …}`` likewise).

Signatures are the real algorithm: hex HMAC-SHA256 of the raw body under the webhook
secret, in ``X-Razorpay-Signature``; each event carries ``X-Razorpay-Event-Id``.

Wire formats, checked against Razorpay's documentation (the razorpay/markdown-docs
mirror of razorpay.com/docs, April 2026):

- "Create a Standard Payment Link",
  https://razorpay.com/docs/api/payments/payment-links/create-standard/ : request
  fields, limits (reference_id ≤ 40 characters, unique; description ≤ 2048; notes ≤ 15
  pairs of ≤ 256 characters; ``callback_method`` ``get`` with ``callback_url``;
  ``expire_by`` at least 15 minutes and at most six months ahead) and error texts.
- "Payment Links Entity", https://razorpay.com/docs/api/payments/payment-links/entity/
  and "Fetch Standard Payment Links by Id",
  https://razorpay.com/docs/api/payments/payment-links/fetch-id-standard/ : the link as
  created and fetched (``payments`` null until a captured payment, then ``{amount,
  created_at, method, payment_id, plink_id, status, updated_at}``); ``callback_url`` and
  ``callback_method`` only when they were given.
- "Payment Links Webhook Events", https://razorpay.com/docs/webhooks/payment-links/ :
  the ``payment_link.paid|expired|cancelled`` bodies (the link in a webhook carries no
  ``payments``; the order entity there has a bare id with no ``order_`` prefix and no
  ``entity`` key, while the payment's and the link's ``order_id`` have the prefix).
- "Payments Webhook Events", https://razorpay.com/docs/webhooks/payments/ and "Refunds
  Webhook Events", https://razorpay.com/docs/webhooks/refunds/ : ``payment.captured``,
  ``payment.failed`` (same order, ``error_source/step/reason``, fee and tax null) and
  ``refund.processed`` (the refund and the payment, with ``amount_refunded`` and
  ``refund_status``).
- "Validate and Test Webhooks", https://razorpay.com/docs/webhooks/validate-test/ and
  "Best Practices", https://razorpay.com/docs/webhooks/best-practices/ : the signature,
  ``x-razorpay-event-id`` unique per event for dedupe, unordered delivery, a 5-second
  answer, exponential retries for 24 hours, then the webhook is disabled.
- "About Errors", https://razorpay.com/docs/errors/ : ``{"error": {"code",
  "description", "field", "source", "step", "reason", "metadata"}}``. A refused key is
  answered 401 with only ``code`` and ``description`` ("Authentication failed"): not in
  the docs, but what several public projects captured from the live API.

Not documented, so guessed: the event id's format (here ``evt_`` and 14 characters); the
error texts for an overlong reference_id or description, a missing callback_method and
an expiry beyond six months; the delay between retries; and whether events that fell
due while a webhook was disabled are ever sent (here they are not: the reconciling job
finds those links).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from core.config import Settings
from fakes.common import Failure, FakeProvider, _json_body, basic_auth_ok, run_main

DEFAULT_KEY_ID = "rzp_test_vckdevkey000"
DEFAULT_KEY_SECRET = "dev-razorpay-key-secret"
DEFAULT_WEBHOOK_SECRET = "dev-razorpay-webhook-secret"
ACCOUNT_ID = "acc_VckFakeAccount01"
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Seconds between tries of a webhook our server refused (Razorpay: backoff over 24 h)."""


def sign(secret: str, body: bytes) -> str:
    """``X-Razorpay-Signature``: hex HMAC-SHA256 of the raw body under the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_id(prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(14))


def event(name: str, contains: dict[str, dict[str, Any]], *, created_at: int | None = None) -> dict:
    """A webhook body in Razorpay's envelope."""
    return {
        "entity": "event",
        "account_id": ACCOUNT_ID,
        "event": name,
        "contains": list(contains),
        "payload": {key: {"entity": entity} for key, entity in contains.items()},
        "created_at": created_at or int(time.time()),
    }


def payment_entity(
    payment_id: str,
    amount: int,
    *,
    order_id: str | None = None,
    status: str = "captured",
    method: str = "upi",
    contact: str = "",
    description: str | None = None,
    notes: dict[str, str] | None = None,
    amount_refunded: int = 0,
    created_at: int | None = None,
) -> dict[str, Any]:
    """A payment as Razorpay's webhooks show it: ``status`` captured, failed or
    refunded (a refunded payment stays ``captured: true``); a failed one has its
    ``error_*`` fields, no fee and no RRN."""
    failed = status == "failed"
    vpa = "donor@okaxis" if method == "upi" else None
    entity: dict[str, Any] = {
        "id": payment_id,
        "entity": "payment",
        "amount": amount,
        "currency": "INR",
        "base_amount": amount,
        "status": status,
        "order_id": order_id,
        "invoice_id": None,
        "international": False,
        "method": method,
        "amount_refunded": amount_refunded,
        "amount_transferred": 0,
        "refund_status": (
            None if not amount_refunded else "full" if amount_refunded >= amount else "partial"
        ),
        "captured": not failed,
        "description": description,
        "card_id": None,
        "bank": None,
        "wallet": None,
        "vpa": vpa,
        "email": None,
        "contact": contact,
        "notes": notes or [],
        "fee": None if failed else 0,
        "tax": None if failed else 0,
        "error_code": "BAD_REQUEST_ERROR" if failed else None,
        "error_description": "Payment failed" if failed else None,
        "error_source": "issuer" if failed else None,
        "error_step": "payment_authorization" if failed else None,
        "error_reason": "payment_failed" if failed else None,
        "acquirer_data": {"rrn": None if failed else str(secrets.randbelow(10**12)).zfill(12)},
        "created_at": created_at or int(time.time()),
    }
    if method == "upi":
        entity["upi"] = {"payer_account_type": "bank_account", "vpa": vpa, "flow": "intent"}
    return entity


def refund_entity(refund_id: str, payment_id: str, amount: int) -> dict[str, Any]:
    return {
        "id": refund_id,
        "entity": "refund",
        "amount": amount,
        "currency": "INR",
        "payment_id": payment_id,
        "notes": [],
        "receipt": None,
        "acquirer_data": {"arn": None},
        "created_at": int(time.time()),
        "batch_id": None,
        "status": "processed",
        "speed_processed": "normal",
        "speed_requested": "normal",
    }


@dataclass
class Link:
    entity: dict[str, Any]
    payments: list[dict[str, Any]] = field(default_factory=list)
    """As the fetch API lists them: captured payments only."""
    captured: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The full payment entities, by id, for the refund webhook."""


@dataclass
class Delivery:
    """One webhook as posted: its event id, name and every HTTP status it got (none
    when the webhook was disabled and it was never sent)."""

    event_id: str
    event: str
    body: bytes
    statuses: list[int] = field(default_factory=list)


class FakeRazorpay(FakeProvider):
    name = "razorpay"
    default_port = 58084

    def __init__(
        self,
        *,
        key_id: str = DEFAULT_KEY_ID,
        key_secret: str = DEFAULT_KEY_SECRET,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_url: str | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.key_id, self.key_secret = key_id, key_secret
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.retry_delays = retry_delays
        self.links: dict[str, Link] = {}
        self.deliveries: list[Delivery] = []
        self.webhook_disabled = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> FakeRazorpay:
        return cls(
            key_id=settings.razorpay_key_id,
            key_secret=settings.razorpay_key_secret.get_secret_value(),
            webhook_secret=settings.razorpay_webhook_secret.get_secret_value(),
            **kwargs,
        )

    def _reset_extra(self) -> None:
        self.links.clear()
        self.deliveries.clear()
        self.webhook_disabled = False

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/payment_links", self._create)
        router.add_get("/v1/payment_links/{id}", self._fetch)
        router.add_post("/_fake/pay", self._pay_endpoint)
        router.add_post("/_fake/refund", self._refund_endpoint)
        router.add_post("/_fake/expire", self._expire_endpoint)

    def error_response(self, failure: Failure) -> web.Response:
        code = "SERVER_ERROR" if failure.status >= 500 else "BAD_REQUEST_ERROR"
        return self._error(code, str(failure.code or "The fake was told to fail"), failure.status)

    @staticmethod
    def _error(
        code: str, description: str, status: int = 400, fld: str | None = None
    ) -> web.Response:
        error: dict[str, Any] = {
            "code": code,
            "description": description,
            "source": "business",
            "step": "payment_initiation",
            "reason": "input_validation_failed",
            "metadata": {},
        }
        if fld is not None:
            error["field"] = fld
        return web.json_response({"error": error}, status=status)

    @staticmethod
    def _unauthorized() -> web.Response:
        """What the live API answers a wrong key: 401 with only code and description."""
        body = {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}
        return web.json_response(body, status=401)

    # --- the API -----------------------------------------------------------------------

    def _invalid(self, body: dict[str, Any], now: int) -> web.Response | None:
        """Razorpay's checks of a create request, with its error texts."""
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
            return self._error(
                "BAD_REQUEST_ERROR", "The amount must be atleast INR 1.00", fld="amount"
            )
        if body.get("currency", "INR") != "INR":
            return self._error("BAD_REQUEST_ERROR", "Currency is not supported", fld="currency")
        if body.get("upi_link") and body.get("accept_partial"):
            return self._error(
                "BAD_REQUEST_ERROR",
                "partial payment not supported in upi link",
                fld="accept_partial",
            )
        notes = body.get("notes") or {}
        if not isinstance(notes, dict) or len(notes) > 15:
            return self._error(
                "BAD_REQUEST_ERROR",
                "Number of fields in notes should be less than or equal to 15",
                fld="notes",
            )
        if any(len(str(value)) > 255 for value in notes.values()):
            return self._error(
                "BAD_REQUEST_ERROR", "value: the length must not be greater than 255.", fld="notes"
            )
        reference = body.get("reference_id")
        if reference is not None and (not isinstance(reference, str) or len(reference) > 40):
            return self._error(
                "BAD_REQUEST_ERROR",
                "The reference id may not be greater than 40 characters.",
                fld="reference_id",
            )
        if reference and any(
            link.entity["reference_id"] == reference for link in self.links.values()
        ):
            return self._error(
                "BAD_REQUEST_ERROR",
                "payment link creation with reference ID already attempted",
                fld="reference_id",
            )
        if len(str(body.get("description") or "")) > 2048:
            return self._error(
                "BAD_REQUEST_ERROR",
                "The description may not be greater than 2048 characters.",
                fld="description",
            )
        if body.get("callback_url") and body.get("callback_method") != "get":
            return self._error(
                "BAD_REQUEST_ERROR", "The callback method field is required.", fld="callback_method"
            )
        expire_by = body.get("expire_by") or 0
        if expire_by and expire_by < now + 15 * 60:
            return self._error(
                "BAD_REQUEST_ERROR",
                "timestamp must be atleast 15 minutes in future",
                fld="expire_by",
            )
        if expire_by and expire_by > now + 183 * 24 * 3600:
            return self._error(
                "BAD_REQUEST_ERROR",
                "expire_by cannot be more than six months from the date of creation",
                fld="expire_by",
            )
        return None

    async def _create(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.key_id, self.key_secret):
            return self._unauthorized()
        body = await _json_body(request)
        now = int(time.time())
        refused = self._invalid(body, now)
        if refused is not None:
            return refused
        link_id = new_id("plink_")
        notify = body.get("notify") or {}
        entity: dict[str, Any] = {
            "accept_partial": bool(body.get("accept_partial", False)),
            "amount": body["amount"],
            "amount_paid": 0,
            "cancelled_at": 0,
            "created_at": now,
            "currency": "INR",
            "customer": body.get("customer") or {},
            "description": body.get("description", ""),
            "expire_by": body.get("expire_by") or 0,
            "expired_at": 0,
            "first_min_partial_amount": int(body.get("first_min_partial_amount") or 0),
            "id": link_id,
            "notes": body.get("notes") or None,
            "notify": {
                "email": bool(notify.get("email", False)),
                "sms": bool(notify.get("sms", False)),
                "whatsapp": bool(notify.get("whatsapp", False)),
            },
            "payments": None,
            "reference_id": body.get("reference_id") or "",
            "reminder_enable": bool(body.get("reminder_enable", False)),
            "reminders": [],
            "short_url": f"https://rzp.io/rzp/{link_id[6:13]}",
            "status": "created",
            "updated_at": now,
            "upi_link": bool(body.get("upi_link", False)),
            "user_id": "",
            "whatsapp_link": False,
        }
        if body.get("callback_url"):  # present only when given
            entity["callback_url"] = body["callback_url"]
            entity["callback_method"] = body["callback_method"]
        self.links[link_id] = Link(entity)
        self.sent.append({"method": "create_link", **body, "id": link_id})
        return web.json_response(entity)

    async def _fetch(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.key_id, self.key_secret):
            return self._unauthorized()
        link = self.links.get(request.match_info["id"])
        if link is None:
            return self._error("BAD_REQUEST_ERROR", "The id provided does not exist")
        return web.json_response({**link.entity, "payments": link.payments or None})

    # --- what the donor and the treasurer do -------------------------------------------

    def _order_id(self, link: Link, now: int) -> str:
        """The link's order, made when the donor first opens it (as Razorpay does)."""
        if not link.entity.get("order_id"):
            link.entity.update(order_id=new_id("order_"), updated_at=now)
        return str(link.entity["order_id"])

    @staticmethod
    def _webhook_link(link: Link) -> dict[str, Any]:
        """The link as a webhook carries it: no ``payments`` list."""
        return {k: v for k, v in link.entity.items() if k != "payments"}

    def pay(
        self,
        link_id: str,
        *,
        method: str = "upi",
        deliver: bool = True,
        twice: bool = False,
        delay: float = 0.0,
        paid_event_first: bool = True,
    ) -> list[bytes]:
        """The donor pays the link: ``payment.captured`` and ``payment_link.paid`` are
        posted (``paid_event_first=False``: captured first), ``twice`` each, after
        ``delay`` seconds. Returns the bodies, for replays."""
        link = self.links[link_id]
        now = int(time.time())
        order_id = self._order_id(link, now)
        payment_id = new_id("pay_")
        amount = link.entity["amount"]
        contact = str(link.entity["customer"].get("contact", ""))
        payment = payment_entity(
            payment_id,
            amount,
            order_id=order_id,
            method=method,
            contact=contact,
            description=f"#{link_id.removeprefix('plink_')}",
            notes=link.entity["notes"],
            created_at=now,
        )
        link.entity.update(status="paid", amount_paid=amount, updated_at=now)
        link.captured[payment_id] = payment
        link.payments.append(
            {
                "amount": amount,
                "created_at": now,
                "method": method,
                "payment_id": payment_id,
                "plink_id": link_id,
                "status": "captured",
                "updated_at": now,
            }
        )
        order = {  # as the docs' samples show it: a bare id and no "entity" key
            "id": order_id.removeprefix("order_"),
            "amount": amount,
            "amount_due": 0,
            "amount_paid": amount,
            "attempts": 1,
            "authorized": True,
            "created_at": link.entity["created_at"],
            "currency": "INR",
            "notes": link.entity["notes"] or [],
            "partial_payment": False,
            "payment_capture": True,
            "product_id": link_id.removeprefix("plink_"),
            "product_type": "payment_link_v2",
            "receipt": link.entity["reference_id"],
            "status": "paid",
            "updated_at": now,
        }
        paid = event(
            "payment_link.paid",
            {"payment_link": self._webhook_link(link), "order": order, "payment": payment},
        )
        captured = event("payment.captured", {"payment": payment})
        bodies = [json.dumps(e).encode() for e in (paid, captured)]
        if not paid_event_first:
            bodies.reverse()
        if deliver:
            for body in bodies:
                self.deliver(body, twice=twice, delay=delay)
        return bodies

    def fail_payment(self, link_id: str, *, deliver: bool = True) -> bytes:
        """A payment attempt on the link fails (the link stays payable)."""
        link = self.links[link_id]
        now = int(time.time())
        payment = payment_entity(
            new_id("pay_"),
            link.entity["amount"],
            order_id=self._order_id(link, now),
            status="failed",
            contact=str(link.entity["customer"].get("contact", "")),
            description=f"#{link_id.removeprefix('plink_')}",
            notes=link.entity["notes"],
            created_at=now,
        )
        body = json.dumps(event("payment.failed", {"payment": payment})).encode()
        if deliver:
            self.deliver(body)
        return body

    def refund(
        self,
        payment_id: str,
        *,
        amount: int | None = None,
        deliver: bool = True,
        twice: bool = False,
        delay: float = 0.0,
    ) -> bytes:
        """The treasurer refunds a captured payment (in full unless ``amount``):
        ``refund.processed`` with the refund and the payment as it now stands."""
        for link in self.links.values():
            captured = link.captured.get(payment_id)
            if captured is None:
                continue
            remaining = captured["amount"] - captured["amount_refunded"]
            this = remaining if amount is None else min(amount, remaining)
            refund = refund_entity(new_id("rfnd_"), payment_id, this)
            refunded = captured["amount_refunded"] + this
            full = refunded >= captured["amount"]
            captured.update(
                amount_refunded=refunded,
                refund_status="full" if full else "partial",
                status="refunded" if full else "captured",
            )
            body = json.dumps(
                event("refund.processed", {"refund": refund, "payment": dict(captured)})
            ).encode()
            if deliver:
                self.deliver(body, twice=twice, delay=delay)
            return body
        raise KeyError(payment_id)

    def expire(self, link_id: str, *, deliver: bool = True, delay: float = 0.0) -> bytes:
        link = self.links[link_id]
        now = int(time.time())
        link.entity.update(status="expired", expired_at=now, updated_at=now)
        body = json.dumps(event("payment_link.expired", {"payment_link": self._webhook_link(link)}))
        if deliver:
            self.deliver(body.encode(), delay=delay)
        return body.encode()

    # --- webhooks --------------------------------------------------------------------

    def signed_headers(self, body: bytes, event_id: str | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Razorpay-Signature": sign(self.webhook_secret, body),
            "X-Razorpay-Event-Id": event_id or new_id("evt_"),
        }

    def enable_webhook(self) -> None:
        """What the merchant does on the Dashboard after fixing their end."""
        self.webhook_disabled = False

    def deliver(
        self, body: bytes, *, twice: bool = False, delay: float = 0.0, event_id: str | None = None
    ) -> str:
        """Post ``body`` to the webhook URL in the background (after ``delay``), retrying
        on non-2xx; ``twice`` posts it a second time with the same event id, as an
        at-least-once gateway does."""
        event_id = event_id or new_id("evt_")
        for copy in range(2 if twice else 1):
            self.spawn(self._deliver(body, event_id, delay + copy * 0.01))
        return event_id

    async def _deliver(self, body: bytes, event_id: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        assert self.webhook_url, "FakeRazorpay.webhook_url is not set"
        record = Delivery(event_id, json.loads(body).get("event", ""), body)
        self.deliveries.append(record)
        for wait in (*self.retry_delays, None):
            if self.webhook_disabled:
                return
            status = await self.post(
                self.webhook_url, data=body, headers=self.signed_headers(body, event_id)
            )
            record.statuses.append(status)
            if 200 <= status < 300:
                return
            if wait is None:  # retries ran out: Razorpay disables the webhook
                self.webhook_disabled = True
                return
            await asyncio.sleep(wait)

    # --- the same controls over HTTP -------------------------------------------------

    async def _pay_endpoint(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if str(body.get("link_id")) not in self.links:
            return web.json_response({"error": "no such link"}, status=404)
        self.pay(
            str(body["link_id"]), twice=bool(body.get("twice")), delay=float(body.get("delay", 0))
        )
        return web.json_response({"ok": True})

    async def _refund_endpoint(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            self.refund(str(body.get("payment_id")))
        except KeyError:
            return web.json_response({"error": "no such payment"}, status=404)
        return web.json_response({"ok": True})

    async def _expire_endpoint(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if str(body.get("link_id")) not in self.links:
            return web.json_response({"error": "no such link"}, status=404)
        self.expire(str(body["link_id"]))
        return web.json_response({"ok": True})


def main(argv: list[str] | None = None) -> None:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--key-id", default=DEFAULT_KEY_ID)
        parser.add_argument("--key-secret", default=DEFAULT_KEY_SECRET)
        parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
        parser.add_argument("--webhook-url", default="http://127.0.0.1:8080/webhooks/razorpay")

    def build(args: argparse.Namespace) -> FakeProvider:
        return FakeRazorpay(
            key_id=args.key_id,
            key_secret=args.key_secret,
            webhook_secret=args.webhook_secret,
            webhook_url=args.webhook_url,
        )

    run_main(
        build, name="razorpay", default_port=FakeRazorpay.default_port, add_arguments=add, argv=argv
    )


if __name__ == "__main__":
    main()
