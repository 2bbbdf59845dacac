"""A fake Twilio: the Messages API, the Content API, signed status callbacks, and
helpers to build signed inbound webhooks in Twilio's real format.

``python -m fakes.twilio --port 58081 [--callbacks]``; point ``VCK_TWILIO_API_BASE_URL``
at it (the sender routes content.twilio.com there too).

``GET /2010-04-01/Accounts/{sid}/Messages.json?To=…&DateSent>=…`` lists the messages
accepted for ``To`` (newest first), as Twilio's Message list does: what the notifier
asks when a worker died with a message in flight (docs/notifier.md). A message counts
as sent when accepted; a template's ``body`` is its variables' values, one per line.

Per-recipient rules: ``fake.fail_for["+9198…"] = 63016`` answers that recipient with
Twilio error 63016 (HTTP 400, or 429 for 20429); ``fake.undeliverable["+9198…"] = 63024``
accepts the message, then reports ``failed`` with that ErrorCode in the status callback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from twilio.request_validator import RequestValidator

from core.channels.sms_text import segments
from core.config import Settings
from fakes.common import Failure, FakeProvider, basic_auth_ok, run_main

DEFAULT_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEFAULT_AUTH_TOKEN = "dev-twilio-auth-token"
DEFAULT_WHATSAPP_NUMBER = "whatsapp:+14155238886"
DEFAULT_SMS_NUMBER = "+15005550006"
MAX_BODY = 1600

_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21656: "The ContentVariables Parameter is invalid.",
    63003: "Channel could not find To address",
    63016: "Failed to send freeform message because you are outside the allowed window.",
    63018: "Rate limit exceeded for Channel",
    63024: "Invalid message recipient",
}


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for a webhook Twilio would post to ``url``."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def inbound_form(
    from_: str,
    body: str = "",
    *,
    sid: str | None = None,
    to: str | None = None,
    profile_name: str = "Member",
    account_sid: str = DEFAULT_ACCOUNT_SID,
    latitude: float | str | None = None,
    longitude: float | str | None = None,
    address: str | None = None,
    label: str | None = None,
    button_text: str | None = None,
    button_payload: str | None = None,
    replied_to: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The form Twilio posts for an inbound message. ``from_`` with ``whatsapp:`` makes
    a WhatsApp message (WaId, ProfileName, MessageType); otherwise an SMS. A button
    press names the message the button was on (``replied_to``: its MessageSid)."""
    sid = sid or new_sid("SM")
    whatsapp = from_.startswith("whatsapp:")
    form = {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to or (DEFAULT_WHATSAPP_NUMBER if whatsapp else DEFAULT_SMS_NUMBER),
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    if whatsapp:
        del form["ToCountry"]
        kind = "text"
        form.update(ProfileName=profile_name, WaId=from_.removeprefix("whatsapp:+"))
        form["ReferralNumMedia"] = "0"
        if latitude is not None or longitude is not None:
            kind = "location"
            if latitude is not None:
                form["Latitude"] = str(latitude)
            if longitude is not None:
                form["Longitude"] = str(longitude)
            if address is not None:
                form["Address"] = address
            if label is not None:
                form["Label"] = label
        if button_payload is not None or button_text is not None:
            kind = "button"
            form["ButtonText"] = button_text or body
            form["ButtonPayload"] = button_payload or ""
            form["Body"] = body or (button_text or "")
            if replied_to is not None:
                form["OriginalRepliedMessageSid"] = replied_to
                form["OriginalRepliedMessageSender"] = form["To"]
        form["MessageType"] = kind
    else:
        form.update(FromCountry="IN", FromState="", FromCity="", FromZip="")
    form.update(extra)
    return form


def status_form(
    sid: str,
    status: str,
    *,
    to: str,
    from_: str = DEFAULT_WHATSAPP_NUMBER,
    error_code: int | str | None = None,
    account_sid: str = DEFAULT_ACCOUNT_SID,
) -> dict[str, str]:
    """The form Twilio posts to a StatusCallback URL."""
    form = {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    if to.startswith("whatsapp:"):
        form["ChannelPrefix"] = "whatsapp"
        form["ChannelToAddress"] = to.removeprefix("whatsapp:")
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


def error_body(code: int, status: int, message: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": message or _MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(FakeProvider):
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        callbacks: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callbacks = callbacks
        """Post signed status callbacks (sent, then delivered or failed) when True."""
        self.contents: list[dict[str, Any]] = []
        self.callbacks_posted: list[dict[str, str]] = []
        self.sent_at: dict[str, datetime] = {}
        """Message sid → when it was accepted (its ``date_sent`` in the Message list)."""

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> FakeTwilio:
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            **kwargs,
        )

    def _reset_extra(self) -> None:
        self.contents.clear()
        self.callbacks_posted.clear()
        self.sent_at.clear()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)
        router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", self._list)
        router.add_post("/v1/Content", self._content)

    def error_response(self, failure: Failure) -> web.Response:
        code = failure.code or (20429 if failure.status == 429 else 20500)
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(int(failure.retry_after))
        return web.json_response(
            error_body(int(code), failure.status), status=failure.status, headers=headers
        )

    def _error(self, code: int, status: int = 400) -> web.Response:
        return web.json_response(error_body(code, status), status=status)

    async def _messages(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.account_sid, self.auth_token):
            return self._error(20003, 401)
        if request.match_info["sid"] != self.account_sid:
            return self._error(20404, 404)
        form = {k: str(v) for k, v in (await request.post()).items()}
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body")
        if not to:
            return self._error(21604)
        if not from_:
            return self._error(21603)
        if not body and not form.get("ContentSid") and not form.get("MediaUrl"):
            return self._error(21602)
        if body and len(body) > MAX_BODY:
            return self._error(21617)
        if "ContentVariables" in form:
            try:
                variables = json.loads(form["ContentVariables"])
            except ValueError:
                return self._error(21656)
            if not isinstance(variables, dict):
                return self._error(21656)
        rule = self.fail_for.get(to.removeprefix("whatsapp:"))
        if rule is not None:
            code = int(rule)
            return self._error(code, 429 if code == 20429 else 400)
        sid = new_sid("SM")
        self.sent.append({"sid": sid, **form})
        self.sent_at[sid] = datetime.now(UTC)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        parts = 1 if to.startswith("whatsapp:") else segments(body or "").parts
        if self.callbacks and form.get("StatusCallback"):
            self.spawn(self._call_back(form["StatusCallback"], sid, to, from_))
        return web.json_response(
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": body or "",
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": from_,
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": str(parts),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
                },
                "to": to,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
            status=201,
        )

    def _resource(self, message: Mapping[str, Any]) -> dict[str, Any]:
        body = message.get("Body")
        if body is None and message.get("ContentVariables"):
            with contextlib.suppress(ValueError, AttributeError):
                body = "\n".join(str(v) for v in json.loads(message["ContentVariables"]).values())
        sid, to = message["sid"], message.get("To", "")
        sent_at = format_datetime(self.sent_at[sid], usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body or "",
            "date_created": sent_at,
            "date_sent": sent_at,
            "date_updated": sent_at,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.get("From", ""),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "sent",
            "subresource_uris": {},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    async def _list(self, request: web.Request) -> web.Response:
        """The Message list: ``To``, ``DateSent>`` (on or after; a date or an ISO
        datetime), ``PageSize``; newest first, one page."""
        if not basic_auth_ok(request, self.account_sid, self.auth_token):
            return self._error(20003, 401)
        if request.match_info["sid"] != self.account_sid:
            return self._error(20404, 404)
        query = request.query
        since = None
        if query.get("DateSent>"):
            try:
                since = _parse_date(query["DateSent>"])
            except ValueError:
                return self._error(20001, 400)
        to = query.get("To")
        found = [
            m
            for m in reversed(self.sent)
            if (to is None or m.get("To") == to)
            and (since is None or self.sent_at[m["sid"]] >= since)
        ]
        size = int(query.get("PageSize", "50") or 50)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return web.json_response(
            {
                "messages": [self._resource(m) for m in found[:size]],
                "end": min(size, len(found)) - 1,
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    async def _call_back(self, url: str, sid: str, to: str, from_: str) -> None:
        rule = self.undeliverable.get(to.removeprefix("whatsapp:"))
        failure_code = int(rule) if rule is not None else None
        steps: list[tuple[str, int | None]] = [("sent", None)]
        steps.append(("failed", failure_code) if failure_code else ("delivered", None))
        for status, code in steps:
            form = status_form(
                sid, status, to=to, from_=from_, error_code=code, account_sid=self.account_sid
            )
            headers = {
                "X-Twilio-Signature": sign(self.auth_token, url, form),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            await self.post(url, data=urlencode(form).encode(), headers=headers)
            self.callbacks_posted.append(form)

    async def _content(self, request: web.Request) -> web.Response:
        if not basic_auth_ok(request, self.account_sid, self.auth_token):
            return self._error(20003, 401)
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response(
                {"code": 20001, "message": "Invalid JSON", "status": 400}, status=400
            )
        types = payload.get("types") if isinstance(payload, dict) else None
        if not isinstance(types, dict) or not types or not payload.get("language"):
            return web.json_response(
                {"code": 20001, "message": "types and language are required", "status": 400},
                status=400,
            )
        sid = new_sid("HX")
        self.contents.append({"sid": sid, **payload})
        now = datetime.now(UTC).isoformat()
        return web.json_response(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "friendly_name": payload.get("friendly_name"),
                "language": payload["language"],
                "variables": payload.get("variables") or {},
                "types": types,
                "date_created": now,
                "date_updated": now,
                "url": f"https://content.twilio.com/v1/Content/{sid}",
                "links": {},
            },
            status=201,
        )


def _parse_date(value: str) -> datetime:
    """``2026-12-01`` or ``2026-12-01T10:20:30Z`` (what the SDK sends), in UTC."""
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
        parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
        parser.add_argument("--callbacks", action="store_true", help="post status callbacks")

    def build(args: argparse.Namespace) -> FakeProvider:
        return FakeTwilio(
            account_sid=args.account_sid, auth_token=args.auth_token, callbacks=args.callbacks
        )

    run_main(build, name="twilio", default_port=58081, add_arguments=add, argv=argv)


if __name__ == "__main__":
    main()
