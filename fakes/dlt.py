"""A fake Indian DLT SMS provider, shaped like Exotel's SMS API, and helpers to build
signed inbound-SMS webhooks.

``python -m fakes.dlt --port 58083 [--registered] [--template ID] [--callbacks]
[--webhook-secret S]``; point
``VCK_DLT_API_BASE_URL`` at it.

``POST /v1/Accounts/{sid}/Sms/send.json`` checks HTTP basic auth and the DLT rules a
real operator enforces: the entity id (604 when missing or malformed, 601 when not ours),
the header (620), and the template id (630 when missing, unknown, or when the body does
not match the registered template text, ``{#var#}`` standing for up to 30 characters).
Stricter than the real thing: Tamil (non-GSM-7) text without ``EncodingType=unicode``
is refused instead of being delivered garbled.

Per-recipient rules: ``fake.fail_for["+9198…"] = 622`` refuses with that code;
``fake.undeliverable["+9198…"] = "dnd"`` accepts, then reports ``failed_dnd`` in the
delivery callback (any other value: ``failed`` with that DetailedStatusCode).
"""

from __future__ import annotations

import argparse
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from core.channels.dlt import DLT_REJECTIONS, SIGNATURE_HEADER, TIMESTAMP_HEADER, e164, sign
from core.channels.sms_text import segments
from core.config import Settings
from core.dlt_templates import Registry
from fakes.common import Failure, FakeProvider, basic_auth_ok, run_main

DEFAULT_ACCOUNT_SID = "vck-dev"
DEFAULT_API_KEY = "dev-dlt-key"
DEFAULT_API_TOKEN = "dev-dlt-token"
DEFAULT_ENTITY_ID = "1101000000000000000"
DEFAULT_HEADER = "VCKPTY"
DEFAULT_TEMPLATE_IDS = ("1107000000000000001", "1107000000000000002", "1107000000000000003")
DEFAULT_VIRTUAL_NUMBER = "08047000000"
VAR_MAX = 30
INDIA = ZoneInfo("Asia/Kolkata")


def _local_now() -> str:
    return datetime.now(INDIA).strftime("%Y-%m-%d %H:%M:%S")


def template_pattern(template: str) -> re.Pattern[str]:
    """A DLT template as a regex: literal text, ``{#var#}`` = up to 30 characters."""
    pieces = [re.escape(p) for p in template.split("{#var#}")]
    return re.compile(f"(?s)^{f'.{{0,{VAR_MAX}}}'.join(pieces)}$")


def inbound_sms_form(
    from_: str,
    body: str,
    *,
    to: str = DEFAULT_VIRTUAL_NUMBER,
    sid: str | None = None,
    date: str | None = None,
) -> dict[str, str]:
    """The form an Exotel-style provider posts when an SMS reaches our virtual number."""
    return {
        "SmsSid": sid or secrets.token_hex(16),
        "From": from_,
        "To": to,
        "Body": body,
        "Date": date or _local_now(),
    }


def signed_request(
    secret: str, form: Mapping[str, str], *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers (content type, ``X-VCK-Timestamp``, ``X-VCK-Signature``)
    the signing proxy forwards for ``form``, signed now unless ``timestamp`` is given."""
    raw = urlencode(dict(form)).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    return raw, {
        "Content-Type": "application/x-www-form-urlencoded",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(secret, raw, stamp),
    }


def status_callback_form(
    sid: str,
    to: str,
    status: str,
    *,
    parts: int = 1,
    code: int | None = None,
    detail: str | None = None,
    custom_field: str | None = None,
) -> dict[str, str]:
    """The delivery report posted to ``StatusCallback`` once the SMS reaches a final state."""
    defaults = {
        "sent": (20005, "DELIVERED_TO_HANDSET"),
        "failed_dnd": (23005, "FAILED_DND"),
        "failed": (23010, "FAILED_INVALID_NUMBER"),
    }
    default_code, default_detail = defaults.get(status, (None, None))
    form = {
        "SmsSid": sid,
        "To": to,
        "Status": status,
        "SmsUnits": str(parts),
        "DetailedStatusCode": str(code if code is not None else default_code or ""),
        "DetailedStatus": detail or default_detail or "",
        "DateSent": _local_now(),
    }
    if custom_field:
        form["CustomField"] = custom_field
    return form


def registered_templates(settings: Settings) -> dict[str, str | None]:
    """Template id → text of everything ``vck dlt templates --export`` lists."""
    registry = Registry.from_settings(settings)
    found: dict[str, str | None] = {}
    for template in registry.registered():
        template_id = registry.template_id(template.key)
        if template_id is not None:
            found[template_id] = template.text
    return found


class FakeDlt(FakeProvider):
    name = "dlt"

    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        api_key: str = DEFAULT_API_KEY,
        api_token: str = DEFAULT_API_TOKEN,
        entity_id: str = DEFAULT_ENTITY_ID,
        headers: Iterable[str] = (DEFAULT_HEADER,),
        templates: Mapping[str, str | None] | None = None,
        callbacks: bool = False,
        webhook_secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.account_sid, self.api_key, self.api_token = account_sid, api_key, api_token
        self.entity_id = entity_id
        self.headers = set(headers)
        self.templates: dict[str, str | None] = dict(
            templates if templates is not None else dict.fromkeys(DEFAULT_TEMPLATE_IDS)
        )
        """Registered template ids → template text (None: any text is accepted)."""
        self.callbacks = callbacks
        self.webhook_secret = webhook_secret
        """When set, callbacks carry ``X-VCK-Signature`` keyed with it."""
        self.callbacks_posted: list[dict[str, str]] = []

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> FakeDlt:
        """A fake that accepts exactly what ``settings`` sends: its credentials, entity,
        header, and every template core.dlt_templates registers, each under its id and
        with its text, as the operator uploaded them: a body that is not its template's
        text with the slots filled is refused (630), as DLT scrubbing does."""
        kwargs.setdefault("templates", registered_templates(settings))
        kwargs.setdefault("webhook_secret", settings.dlt_webhook_secret.get_secret_value())
        return cls(
            account_sid=settings.dlt_account_sid,
            api_key=settings.dlt_api_key,
            api_token=settings.dlt_api_token.get_secret_value(),
            entity_id=settings.dlt_entity_id,
            headers=(settings.dlt_sender_id,),
            **kwargs,
        )

    def _reset_extra(self) -> None:
        self.callbacks_posted.clear()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/Accounts/{sid}/Sms/send.json", self._send)
        router.add_post("/v1/Accounts/{sid}/Sms/send", self._send)

    @staticmethod
    def _error(
        status: int,
        message: str,
        code: int | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        body: dict[str, Any] = {"Status": status, "Message": message}
        if code is not None:
            body["Code"] = code
        return web.json_response({"RestException": body}, status=status, headers=headers)

    def _dlt(self, code: int) -> web.Response:
        return self._error(400, DLT_REJECTIONS.get(code, "DLT rejection"), code)

    def error_response(self, failure: Failure) -> web.Response:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(int(failure.retry_after))
        message = "Too Many Requests" if failure.status == 429 else "Fake failure"
        return self._error(failure.status, message, failure.code, headers)

    async def _send(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.api_key, self.api_token):
            return self._error(
                401, "Authentication failed. Invalid API Key or Token.", "UNAUTHORIZED"
            )
        if request.match_info["sid"] != self.account_sid:
            return self._error(404, "Account not found")
        form = {k: str(v) for k, v in (await request.post()).items()}
        sender, to, body = form.get("From", ""), form.get("To", ""), form.get("Body", "")
        if not sender or not to or not body:
            return self._error(400, "From, To and Body are mandatory")
        if len(body) > 2000:
            return self._error(400, "Body cannot exceed 2000 characters")
        entity = form.get("DltEntityId", "")
        if not entity.isdigit():
            return self._dlt(604)
        if entity != self.entity_id:
            return self._dlt(601)
        if sender not in self.headers:
            return self._dlt(620)
        template_id = form.get("DltTemplateId", "")
        if template_id not in self.templates:
            return self._dlt(630)
        template = self.templates[template_id]
        if template is not None and not template_pattern(template).match(body):
            return self._error(400, "TEMPLATE_NOT_FOUND: the body does not match the template", 630)
        cost = segments(body)
        if cost.is_unicode and form.get("EncodingType", "plain").lower() != "unicode":
            return self._error(400, "Body has unicode characters: EncodingType must be unicode")
        try:
            address = e164(to)
        except ValueError:
            return self._error(400, "To is not a valid mobile number")
        rule = self.fail_for.get(address)
        if rule is not None:
            return self._dlt(int(rule))
        sid = secrets.token_hex(16)
        self.sent.append({"Sid": sid, "SmsUnits": cost.parts, **form})
        if self.callbacks and form.get("StatusCallback"):
            self.spawn(
                self._call_back(
                    form["StatusCallback"], sid, to, cost.parts, form.get("CustomField")
                )
            )
        now = _local_now()
        return web.json_response(
            {
                "SMSMessage": {
                    "Sid": sid,
                    "AccountSid": self.account_sid,
                    "From": f"{DEFAULT_VIRTUAL_NUMBER}/{sender}",
                    "To": to,
                    "DateCreated": now,
                    "DateUpdated": now,
                    "DateSent": None,
                    "Body": body,
                    "Direction": "outbound-api",
                    "Uri": f"/v1/Accounts/{self.account_sid}/SMS/Messages/{sid}.json",
                    "ApiVersion": None,
                    "Price": None,
                    "Status": "queued",
                    "DetailedStatusCode": 21010,
                    "DetailedStatus": "PENDING_TO_OPERATOR",
                    "SmsUnits": cost.parts,
                }
            }
        )

    async def _call_back(
        self, url: str, sid: str, to: str, parts: int, custom_field: str | None
    ) -> None:
        rule = self.undeliverable.get(e164(to))
        if rule is None:
            form = status_callback_form(sid, to, "sent", parts=parts, custom_field=custom_field)
        elif str(rule).lower() == "dnd":
            form = status_callback_form(
                sid, to, "failed_dnd", parts=parts, custom_field=custom_field
            )
        else:
            form = status_callback_form(
                sid,
                to,
                "failed",
                parts=parts,
                code=int(rule),
                detail="FAILED",
                custom_field=custom_field,
            )
        if self.webhook_secret:
            raw, headers = signed_request(self.webhook_secret, form)
        else:
            raw = urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        await self.post(url, data=raw, headers=headers)
        self.callbacks_posted.append(form)


def main(argv: list[str] | None = None) -> None:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)
        parser.add_argument("--api-token", default=DEFAULT_API_TOKEN)
        parser.add_argument("--entity-id", default=DEFAULT_ENTITY_ID)
        parser.add_argument("--header", action="append", default=None)
        parser.add_argument(
            "--template", action="append", default=None, help="registered template id (repeatable)"
        )
        parser.add_argument(
            "--registered",
            action="store_true",
            help="also every SMS template core.dlt_templates lists, each with its text, under "
            "the ids this environment's settings give (what the demo bot sends)",
        )
        parser.add_argument("--callbacks", action="store_true")
        parser.add_argument("--webhook-secret", default=None)

    def build(args: argparse.Namespace) -> FakeProvider:
        templates: dict[str, str | None] | None = None
        if args.registered or args.template:
            templates = registered_templates(Settings()) if args.registered else {}
            templates.update(dict.fromkeys(args.template or ()))
        return FakeDlt(
            account_sid=args.account_sid,
            api_key=args.api_key,
            api_token=args.api_token,
            entity_id=args.entity_id,
            headers=args.header or (DEFAULT_HEADER,),
            templates=templates,
            callbacks=args.callbacks,
            webhook_secret=args.webhook_secret,
        )

    run_main(build, name="dlt", default_port=58083, add_arguments=add, argv=argv)


if __name__ == "__main__":
    main()
