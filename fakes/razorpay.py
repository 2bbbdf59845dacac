"""A fake Razorpay: Payment Links (``POST /v1/payment_links``, ``GET
/v1/payment_links/{id}``, basic auth ``key_id:key_secret``) and signed webhooks, with
the gateway's real delivery habits on demand: twice, late, out of order, and retried
with backoff while our server answers non-2xx (Razorpay retries for 24 hours).

``python -m fakes.razorpay --port 58084 --webhook-url http://127.0.0.1:8080/webhooks/razorpay``;
point ``VCK_RAZORPAY_API_BASE_URL`` at it. ``POST /_fake/pay`` ``{"link_id": "plink_…",
"twice": true, "delay": 1}`` pays a link (``/_fake/refund`` ``{"payment_id": …}``,
``/_fake/expire`` ``{"link_id": …}`` likewise).

Signatures are the real algorithm: hex HMAC-SHA256 of the raw body under the webhook
secret, in ``X-Razorpay-Signature``; each event carries ``X-Razorpay-Event-Id``.
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
    created_at: int | None = None,
) -> dict[str, Any]:
    return {
        "id": payment_id,
        "entity": "payment",
        "amount": amount,
        "currency": "INR",
        "status": status,
        "order_id": order_id,
        "invoice_id": None,
        "international": False,
        "method": method,
        "amount_refunded": 0,
        "refund_status": None,
        "captured": status == "captured",
        "description": None,
        "bank": None,
        "wallet": None,
        "vpa": "donor@okaxis" if method == "upi" else None,
        "email": "void@razorpay.com",
        "contact": contact,
        "notes": [],
        "fee": 0,
        "tax": 0,
        "error_code": None if status != "failed" else "BAD_REQUEST_ERROR",
        "error_description": None if status != "failed" else "Payment was unsuccessful",
        "acquirer_data": {"rrn": str(secrets.randbelow(10**12)).zfill(12)},
        "created_at": created_at or int(time.time()),
    }


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


@dataclass
class Delivery:
    """One webhook as posted: its event id, name and every HTTP status it got."""

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
        body = {
            "error": {
                "code": code,
                "description": description,
                "source": "business",
                "step": "payment_initiation",
                "reason": "input_validation_failed",
                "metadata": {},
                "field": fld,
            }
        }
        return web.json_response(body, status=status)

    # --- the API -----------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.key_id, self.key_secret):
            return self._error("BAD_REQUEST_ERROR", "Authentication failed", 401)
        body = await _json_body(request)
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
            return self._error(
                "BAD_REQUEST_ERROR", "The amount must be atleast INR 1.00", fld="amount"
            )
        if body.get("currency", "INR") != "INR":
            return self._error("BAD_REQUEST_ERROR", "Currency is not supported", fld="currency")
        notes = body.get("notes") or {}
        if not isinstance(notes, dict) or len(notes) > 15:
            return self._error(
                "BAD_REQUEST_ERROR",
                "Number of fields in notes should be less than or equal to 15",
                fld="notes",
            )
        reference = body.get("reference_id")
        if reference and any(
            link.entity["reference_id"] == reference for link in self.links.values()
        ):
            return self._error(
                "BAD_REQUEST_ERROR",
                f"Payment Link with reference {reference} already exists",
                fld="reference_id",
            )
        now = int(time.time())
        expire_by = body.get("expire_by") or 0
        if expire_by and expire_by < now + 15 * 60:
            return self._error(
                "BAD_REQUEST_ERROR",
                "expire_by should be at least 15 minutes after current time",
                fld="expire_by",
            )
        link_id = new_id("plink_")
        entity = {
            "accept_partial": bool(body.get("accept_partial", False)),
            "amount": amount,
            "amount_paid": 0,
            "callback_method": body.get("callback_method", ""),
            "callback_url": body.get("callback_url", ""),
            "cancelled_at": 0,
            "created_at": now,
            "currency": "INR",
            "customer": body.get("customer") or {},
            "description": body.get("description", ""),
            "expire_by": expire_by,
            "expired_at": 0,
            "first_min_partial_amount": 0,
            "id": link_id,
            "notes": notes,
            "notify": body.get("notify") or {"email": False, "sms": False},
            "order_id": "",
            "payments": None,
            "reference_id": reference or "",
            "reminder_enable": bool(body.get("reminder_enable", False)),
            "reminders": [],
            "short_url": f"https://rzp.io/rzp/{link_id[6:14]}",
            "status": "created",
            "updated_at": now,
            "upi_link": bool(body.get("upi_link", False)),
            "user_id": "",
        }
        self.links[link_id] = Link(entity)
        self.sent.append({"method": "create_link", **body, "id": link_id})
        return web.json_response(entity)

    async def _fetch(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.key_id, self.key_secret):
            return self._error("BAD_REQUEST_ERROR", "Authentication failed", 401)
        link = self.links.get(request.match_info["id"])
        if link is None:
            return self._error("BAD_REQUEST_ERROR", "The id provided does not exist", 400, "id")
        return web.json_response({**link.entity, "payments": link.payments or None})

    # --- what the donor and the treasurer do -------------------------------------------

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
        order_id = link.entity["order_id"] or new_id("order_")
        payment_id = new_id("pay_")
        amount = link.entity["amount"]
        contact = str(link.entity["customer"].get("contact", ""))
        payment = payment_entity(
            payment_id, amount, order_id=order_id, method=method, contact=contact, created_at=now
        )
        link.entity.update(status="paid", amount_paid=amount, order_id=order_id, updated_at=now)
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
        order = {
            "id": order_id,
            "entity": "order",
            "amount": amount,
            "amount_paid": amount,
            "amount_due": 0,
            "currency": "INR",
            "receipt": link.entity["reference_id"],
            "status": "paid",
            "attempts": 1,
            "notes": [],
            "created_at": now,
        }
        paid = event(
            "payment_link.paid",
            {"payment_link": dict(link.entity), "order": order, "payment": payment},
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
        payment = payment_entity(new_id("pay_"), link.entity["amount"], status="failed")
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
        for link in self.links.values():
            for payment in link.payments:
                if payment["payment_id"] == payment_id:
                    full = payment["amount"]
                    refund = refund_entity(new_id("rfnd_"), payment_id, amount or full)
                    body = json.dumps(
                        event(
                            "refund.processed",
                            {
                                "refund": refund,
                                "payment": payment_entity(payment_id, full, status="refunded"),
                            },
                        )
                    ).encode()
                    if deliver:
                        self.deliver(body, twice=twice, delay=delay)
                    return body
        raise KeyError(payment_id)

    def expire(self, link_id: str, *, deliver: bool = True, delay: float = 0.0) -> bytes:
        link = self.links[link_id]
        link.entity.update(status="expired", expired_at=int(time.time()))
        body = json.dumps(event("payment_link.expired", {"payment_link": dict(link.entity)}))
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
            status = await self.post(
                self.webhook_url, data=body, headers=self.signed_headers(body, event_id)
            )
            record.statuses.append(status)
            if 200 <= status < 300 or wait is None:
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
