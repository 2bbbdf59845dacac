"""A fake Telegram Bot API, and builders of real-format updates for tests.

``python -m fakes.telegram --port 58082``; point ``VCK_TELEGRAM_API_BASE_URL`` at it
(python-telegram-bot then calls ``<base>/bot<TOKEN>/<method>``).

Methods: getMe, sendMessage, answerCallbackQuery, setWebhook, deleteWebhook,
getWebhookInfo, editMessageReplyMarkup. Bodies may be JSON, form or multipart (python-
telegram-bot sends forms whose non-string values are JSON-encoded).

Per-chat rules: ``fake.fail_for["12345"] = 403`` answers "Forbidden: bot was blocked by
the user", ``400`` "Bad Request: chat not found", ``429`` a flood-control error with
``retry_after``. :meth:`FakeTelegram.deliver` posts an update to the webhook set with
setWebhook, with the secret-token header, as Telegram does.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from core.config import Settings
from fakes.common import Failure, FakeProvider, run_main

DEFAULT_TOKEN = "123456:dev-telegram-token"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "parse_mode",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
    }
)
_ERRORS = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
}


def _user(user_id: int, first_name: str = "Member", *, is_bot: bool = False) -> dict[str, Any]:
    return {"id": user_id, "is_bot": is_bot, "first_name": first_name, "language_code": "ta"}


def _private_chat(chat_id: int, first_name: str = "Member") -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": first_name}


def message_update(
    update_id: int,
    chat_id: int,
    *,
    user_id: int | None = None,
    first_name: str = "Member",
    message_id: int | None = None,
    date: int | None = None,
    kind: str = "message",
    **content: Any,
) -> dict[str, Any]:
    """An update carrying a private-chat message with ``content`` (text=…, location=…)."""
    user_id = chat_id if user_id is None else user_id
    return {
        "update_id": update_id,
        kind: {
            "message_id": message_id or update_id,
            "from": _user(user_id, first_name),
            "chat": _private_chat(chat_id, first_name),
            "date": date or int(time.time()),
            **content,
        },
    }


def text_update(
    update_id: int, chat_id: int, text: str, *, user_id: int | None = None, **kw: Any
) -> dict[str, Any]:
    return message_update(update_id, chat_id, user_id=user_id, text=text, **kw)


def location_update(
    update_id: int, chat_id: int, latitude: float, longitude: float, **kw: Any
) -> dict[str, Any]:
    return message_update(
        update_id, chat_id, location={"latitude": latitude, "longitude": longitude}, **kw
    )


def contact_update(
    update_id: int,
    chat_id: int,
    phone_number: str,
    *,
    contact_user_id: int | None = None,
    first_name: str = "Member",
    **kw: Any,
) -> dict[str, Any]:
    """A shared contact card; ``contact_user_id`` defaults to the sender (their own)."""
    sender = kw.get("user_id") if kw.get("user_id") is not None else chat_id
    contact = {
        "phone_number": phone_number,
        "first_name": first_name,
        "user_id": sender if contact_user_id is None else contact_user_id,
    }
    return message_update(update_id, chat_id, first_name=first_name, contact=contact, **kw)


def callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    *,
    user_id: int | None = None,
    message_id: int = 1,
    query_id: str | None = None,
    bot_id: int = 123456,
) -> dict[str, Any]:
    """A press on an inline-keyboard button whose callback data is ``data``."""
    user_id = chat_id if user_id is None else user_id
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id or str(4_000_000_000 + update_id),
            "from": _user(user_id),
            "chat_instance": str(-chat_id),
            "data": data,
            "message": {
                "message_id": message_id,
                "from": _user(bot_id, "VCK Connect", is_bot=True),
                "chat": _private_chat(chat_id),
                "date": int(time.time()),
                "text": "…",
            },
        },
    }


class FakeTelegram(FakeProvider):
    name = "telegram"

    def __init__(self, *, token: str = DEFAULT_TOKEN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.calls: list[dict[str, Any]] = []
        """Every Bot API call (method and parameters); ``sent`` holds sendMessage only."""
        self.webhook: dict[str, Any] = {}
        self._message_ids: defaultdict[str, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> FakeTelegram:
        return cls(token=settings.telegram_bot_token.get_secret_value(), **kwargs)

    def _reset_extra(self) -> None:
        self.calls.clear()
        self.webhook.clear()
        self._message_ids.clear()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/bot{token}/{method}", self._api)

    @staticmethod
    def _error(
        status: int, description: str | None = None, retry_after: float | None = None
    ) -> web.Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": status,
            "description": description or _ERRORS.get(status, "Internal Server Error"),
        }
        if status == 429:
            seconds = math.ceil(retry_after if retry_after is not None else 3)
            body["description"] = f"Too Many Requests: retry after {seconds}"
            body["parameters"] = {"retry_after": seconds}
        return web.json_response(body, status=status)

    def error_response(self, failure: Failure) -> web.Response:
        description = str(failure.code) if isinstance(failure.code, str) else None
        return self._error(failure.status, description, failure.retry_after)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
            return params
        for key, value in (await request.post()).items():
            if not isinstance(value, str):
                continue  # an uploaded file
            if key in _STRING_FIELDS:
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    def _bot_user(self) -> dict[str, Any]:
        return {
            **_user(self.bot_id, "VCK Connect", is_bot=True),
            "username": "vck_connect_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _message(self, chat_id: Any, text: str | None, markup: Any = None) -> dict[str, Any]:
        key = str(chat_id)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[key]),
            "from": self._bot_user(),
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes only inline keyboards
        return message

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append({"method": method, **params})
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "answercallbackquery": self._true,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._webhook_info,
            "editmessagereplymarkup": self._edit_markup,
        }.get(method.lower())
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return await handler(params)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _true(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        return self._ok(self._bot_user())

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            return self._error(400, "Bad Request: chat_id is empty")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if len(str(text)) > 4096:
            return self._error(400, "Bad Request: message is too long")
        rule = self.fail_for.get(str(chat_id))
        if rule is not None:
            return self._error(int(rule))
        message = self._message(chat_id, str(text), params.get("reply_markup"))
        self.sent.append({"method": "sendMessage", **params, "message_id": message["message_id"]})
        return self._ok(message)

    async def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {k: params.get(k) for k in ("url", "secret_token", "allowed_updates")}
        return self._ok(True)

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        return self._ok(True)

    async def _webhook_info(self, params: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "url": self.webhook.get("url") or "",
                "has_custom_certificate": False,
                "pending_update_count": 0,
            }
        )

    async def _edit_markup(self, params: dict[str, Any]) -> web.Response:
        if params.get("inline_message_id"):
            return self._ok(True)
        message = self._message(params.get("chat_id"), None, params.get("reply_markup"))
        message["message_id"] = params.get("message_id")
        return self._ok(message)

    async def deliver(
        self, update: dict[str, Any], *, url: str | None = None, secret: str | None = None
    ) -> int:
        """POST ``update`` to the webhook (set with setWebhook, or ``url``) carrying the
        secret-token header; returns our server's HTTP status."""
        target = url or self.webhook.get("url")
        if not target:
            raise RuntimeError("no webhook set")
        token = secret if secret is not None else self.webhook.get("secret_token")
        headers = {SECRET_HEADER: token} if token else {}
        return await self.post(target, json=update, headers=headers)


def main(argv: list[str] | None = None) -> None:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--token", default=DEFAULT_TOKEN)

    run_main(
        lambda args: FakeTelegram(token=args.token),
        name="telegram",
        default_port=58082,
        add_arguments=add,
        argv=argv,
    )


if __name__ == "__main__":
    main()
