"""The bot's HTTP face: provider webhooks, health and metrics.

Every webhook is verified before anything else (403, nothing stored or answered),
parsed to one :class:`InboundMessage` (400 for a malformed body, never 500), handed to
the conversation engine, and answered on the same channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from multidict import MultiDictProxy
from twilio.twiml.messaging_response import MessagingResponse

from bot import asked, flood, payments
from bot.bootstrap import Bot
from bot.ops import Ops
from core import places
from core.channels import dlt, telegram, twilio
from core.channels.base import Channel, InboundMessage, Reply
from core.channels.errors import MalformedPayload, StatusUpdate
from core.channels.forms import parse_form
from core.fanout import FanoutPolicy
from core.i18n import N_, bilingual
from core.services import status

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("bot", Bot)
OPS_KEY = web.AppKey("ops", Ops)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY = 64 * 1024
"""Providers send a few KB at most; anything larger is not a provider."""


def make_app(bot: Bot, *, reuse_port: bool = False) -> web.Application:
    """The webhook app; ``reuse_port`` when several processes share the ports."""
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[errors_middleware],
        # Providers never compress webhooks. Inflating a bad gzip body fails again when
        # aiohttp drains what the handler left unread, logged with a traceback in its own
        # loop; left compressed, the bytes simply fail the signature or the parser.
        handler_args={"auto_decompress": False},
    )
    app[BOT_KEY] = bot
    app[OPS_KEY] = ops = Ops(bot)
    app.router.add_post("/webhooks/twilio", twilio_inbound)
    app.router.add_post("/webhooks/twilio/status", twilio_status)
    app.router.add_post("/webhooks/telegram", telegram_update)
    app.router.add_post("/webhooks/dlt", dlt_inbound)
    app.router.add_post("/webhooks/dlt/status", dlt_status)
    payments.mount(app, BOT_KEY)  # /webhooks/razorpay and the receipt links
    app.on_startup.append(_warm_up)
    app.on_cleanup.append(_close)
    ops.mount(app, reuse_port=reuse_port)  # after the warm-up: healthy means ready
    return app


async def _warm_up(app: web.Application) -> None:
    """Load the PIN-code directory now, not on the first member's PIN (~2 s)."""
    await asyncio.to_thread(places.preload)


async def _close(app: web.Application) -> None:
    await app[BOT_KEY].close()


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    bot = request.app[BOT_KEY]
    try:
        return await handler(request)
    except MalformedPayload as exc:
        bot.metrics.errors.labels("malformed").inc()
        _log_refusal(request.path, 400, str(exc))
        return web.json_response({"error": "malformed payload", "detail": str(exc)}, status=400)
    except web.HTTPException as exc:
        if exc.status in (413, 415):
            bot.metrics.errors.labels("malformed").inc()
            _log_refusal(request.path, exc.status, exc.reason)
            return web.json_response(
                {"error": exc.reason}, status=400 if exc.status == 415 else 413
            )
        raise
    except Exception:
        bot.metrics.errors.labels("internal").inc()
        log.exception("unhandled error on %s", request.path)
        raise


def _log_refusal(path: str, status: int, reason: str) -> None:
    """One line per refused request, never a traceback: hostile input is expected, not a
    fault. The reason stops at its first colon, where details (a phone number, what a
    library disliked) begin, and is cut short, so senders cannot write into the log."""
    reason = reason.split(":", 1)[0][:80]
    log.warning("refused %s on %s: %r", status, path, reason)


def _refuse(bot: Bot, kind: str) -> web.Response:
    bot.metrics.errors.labels(kind).inc()
    _log_refusal("a webhook", 403, kind)
    return web.json_response({"error": "signature check failed"}, status=403)


async def _form(request: web.Request) -> MultiDictProxy[str]:
    """The form fields, decoded as UTF-8 whatever charset the (unsigned) header names."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise MalformedPayload("expected a form-encoded body")
    return parse_form(await request.read())


async def _handle(bot: Bot, message: InboundMessage) -> list[Reply]:
    started = time.perf_counter()
    channel = message.channel.value
    verdict = await flood.admit(bot.redis, bot.settings, message)
    if verdict is not flood.Verdict.ANSWER:  # a flood: not stored, at most one reply
        bot.metrics.flooded.labels(channel, verdict.value).inc()
        return [flood.slow_down_reply()] if verdict is flood.Verdict.SLOW_DOWN else []
    replies = await bot.conversation.handle(await asked.fresh(bot.redis, bot.settings, message))
    if replies:
        bot.metrics.inbound.labels(channel).inc()
        bot.metrics.replies.labels(channel).inc(len(replies))
    else:
        bot.metrics.duplicates.labels(channel).inc()
    bot.metrics.handling.labels(channel).observe(time.perf_counter() - started)
    return replies


# --- Twilio: WhatsApp and SMS ----------------------------------------------------------


async def twilio_inbound(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    params = await _form(request)
    url = twilio.public_url(bot.settings.public_base_url, request.path_qs)
    token = bot.settings.twilio_auth_token.get_secret_value()
    if not twilio.verify_signature(token, url, params, request.headers.get("X-Twilio-Signature")):
        return _refuse(bot, "twilio_signature")
    message = twilio.parse_inbound(params, received_at=datetime.now(UTC))
    started = time.perf_counter()
    replies = await _handle(bot, message)
    # Under heavy load a reply can be ready after Twilio stopped waiting: send it.
    late = time.perf_counter() - started > bot.settings.twiml_reply_deadline_seconds or (
        request.transport is None or request.transport.is_closing()
    )
    twiml_replies = []
    for reply in replies:
        if late or (message.channel is Channel.WHATSAPP and twilio.has_native_choices(reply)):
            # Quick replies and lists need the REST API; the text keeps the numbers.
            bot.send_soon(message.channel, message.address, reply)
        else:
            twiml_replies.append(reply)
    response = MessagingResponse()
    for reply in twiml_replies:
        response.message(twilio.render_text(reply, message.channel))
    if twiml_replies and message.channel is Channel.WHATSAPP:  # plain text: no buttons now
        await asked.shown(
            bot.redis, bot.settings, message.channel, message.address, buttons=False,
            message_id=None,
        )  # fmt: skip
    return web.Response(text=str(response), content_type="application/xml")


async def twilio_status(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    params = await _form(request)
    url = twilio.public_url(bot.settings.public_base_url, request.path_qs)
    token = bot.settings.twilio_auth_token.get_secret_value()
    if not twilio.verify_signature(token, url, params, request.headers.get("X-Twilio-Signature")):
        return _refuse(bot, "twilio_signature")
    update = twilio.parse_status_callback(params)
    channel = Channel.WHATSAPP if params.get("From", "").startswith("whatsapp:") else Channel.SMS
    await _apply_status(bot, update, channel, dict(params))
    return web.Response(status=204)


async def _apply_status(bot: Bot, update: StatusUpdate, channel: Channel, payload: dict) -> None:
    async with bot.session_factory() as session, session.begin():
        applied = await status.record_status(
            session,
            update,
            channel=channel,
            payload=payload,
            now=datetime.now(UTC),
            secret=bot.settings.secret_key.get_secret_value(),
            policy=FanoutPolicy.from_settings(bot.settings),
        )
    if applied.requeued:  # WhatsApp could not deliver: the row waits on another channel
        await bot.jobs.enqueue_batch(*applied.requeued)


# --- Telegram ------------------------------------------------------------------------------


async def telegram_update(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    secret = bot.settings.telegram_webhook_secret.get_secret_value()
    if not telegram.verify_secret(secret, request.headers.get("X-Telegram-Bot-Api-Secret-Token")):
        return _refuse(bot, "telegram_secret")
    data = telegram.load_update(await request.read())
    message = telegram.parse_update(data, received_at=datetime.now(UTC))
    if message is None:
        return web.json_response({"ok": True, "ignored": True})
    if not message.private_chat:  # nothing stored, no conversation: one polite answer
        bot.metrics.errors.labels("group_chat").inc()
        await bot.send_now(message.channel, message.address, private_only_reply())
        return web.json_response({"ok": True, "ignored": True})
    replies = await _handle(bot, message)
    for reply in replies:
        await bot.send_now(message.channel, message.address, reply)
    callback_id = telegram.callback_query_id(data)
    if callback_id and replies:
        await bot.senders.telegram.answer_callback(callback_id)
    return web.json_response({"ok": True})


PRIVATE_ONLY = N_(
    "I talk with members one to one. Please write to me in a private chat, not in a group."
)


def private_only_reply() -> Reply:
    """The answer in a Telegram group (security review M4), in Tamil then English: the
    group has no language of its own."""
    return Reply(bilingual(PRIVATE_ONLY))


# --- the Indian DLT SMS provider ---------------------------------------------------------


async def _dlt_form(request: web.Request) -> MultiDictProxy[str]:
    bot = request.app[BOT_KEY]
    body = await request.read()
    secret = bot.settings.dlt_webhook_secret.get_secret_value()
    headers = request.headers
    if not dlt.verify_webhook(
        secret, body, headers.get(dlt.SIGNATURE_HEADER), headers.get(dlt.TIMESTAMP_HEADER)
    ):
        raise web.HTTPForbidden()
    return await _form(request)


async def dlt_inbound(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    try:
        params = await _dlt_form(request)
    except web.HTTPForbidden:
        return _refuse(bot, "dlt_signature")
    message = dlt.parse_inbound(params, received_at=datetime.now(UTC))
    for reply in await _handle(bot, message):
        bot.send_soon(message.channel, message.address, reply)
    return web.Response(status=204)


async def dlt_status(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    try:
        params = await _dlt_form(request)
    except web.HTTPForbidden:
        return _refuse(bot, "dlt_signature")
    await _apply_status(bot, dlt.parse_status_callback(params), Channel.SMS, dict(params))
    return web.Response(status=204)
