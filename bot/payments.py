"""The gateway's webhook and the receipt links, on the bot's HTTP app.

``POST /webhooks/razorpay``: the signature over the raw body first (403, nothing stored),
then the event applied once in one transaction (core/services/donation_payments.py),
then the donor's thanks delivered from the outbox. Razorpay wants a 2xx within 5 s and
retries anything else for 24 hours, then disables the webhook: a signed body we cannot
read is answered 200 and held for review (a retry cannot help, and a disabled webhook
would stop every donation's confirmation), a database failure 503 (a retry can).

``GET /receipts/<donation id>?e=…&s=…``: the receipt PDF, for a link signed with the
server's key that has not expired (403 otherwise, 404 for no such receipt).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from aiohttp import web
from asyncpg import InterfaceError, PostgresError
from sqlalchemy.exc import SQLAlchemyError

from bot.bootstrap import Bot
from core import effects, payments, receipts
from core.channels.errors import MalformedPayload
from core.services import donation_payments

log = logging.getLogger(__name__)

DATABASE_ERRORS = (SQLAlchemyError, PostgresError, InterfaceError, OSError)
"""What the database (through SQLAlchemy or the driver) raises when a retry can help."""


def mount(app: web.Application, bot_key: web.AppKey[Bot]) -> None:
    app[NUMBERER] = Numberer(app[bot_key])

    async def webhook(request: web.Request) -> web.Response:
        return await razorpay_webhook(request, request.app[bot_key], request.app[NUMBERER])

    async def receipt(request: web.Request) -> web.StreamResponse:
        return await receipt_pdf(request, request.app[bot_key])

    app.router.add_post("/webhooks/razorpay", webhook)
    app.router.add_get("/receipts/{donation_id}", receipt)


async def razorpay_webhook(request: web.Request, bot: Bot, numberer: Numberer) -> web.Response:
    body = await request.read()
    secret = bot.settings.razorpay_webhook_secret.get_secret_value()
    if not payments.verify_webhook(secret, body, request.headers.get(payments.SIGNATURE_HEADER)):
        bot.metrics.errors.labels("razorpay_signature").inc()
        log.warning("refused 403 on /webhooks/razorpay: 'razorpay_signature'")
        return web.json_response({"error": "signature check failed"}, status=403)
    event_id = request.headers.get(payments.EVENT_ID_HEADER)
    try:
        event = payments.parse_event(body, event_id)
    except MalformedPayload as exc:
        # Signed by the gateway, so not an attacker's: answering 4xx would have it
        # retried for 24 hours and then the webhook disabled, stopping every donation's
        # confirmation. Held for the treasurer instead; the reconciling cron fetches the
        # link's state from the gateway, so a payment in it is not lost.
        return await hold_unreadable(bot, event_id, str(exc))
    now = datetime.now(UTC)
    try:
        applied = await donation_payments.apply_paid_at_once(bot.db, event, now=now)
        if applied is None:
            async with bot.session_factory() as session, session.begin():
                applied = await donation_payments.apply_event(
                    session, event, now=now, settings=bot.settings
                )
    except DATABASE_ERRORS:
        log.exception("razorpay event not applied; the gateway will retry")
        return web.json_response({"error": "try again"}, status=503)
    if applied.outcome is donation_payments.Outcome.PAID:
        numberer.poke()
    if applied.effect_ids:  # a refund's notice; else the worker's sweep sends it
        try:
            await effects.deliver(bot.db, bot.settings, bot.conversation.ports, applied.effect_ids)
        except Exception:
            log.exception(
                "refund notice not sent now; left to the sweep"
            )  # the receipt number and the thanks, right after, in a batch
    return web.json_response({"ok": True, "outcome": applied.outcome.value})


async def hold_unreadable(bot: Bot, event_id: str | None, reason: str) -> web.Response:
    log.warning("razorpay event held for review: %s", reason)
    try:
        async with bot.session_factory() as session, session.begin():
            await donation_payments.hold_for_review(
                session, "unreadable", event_id=(event_id or "")[:64] or None, now=datetime.now(UTC)
            )
    except SQLAlchemyError:
        log.exception("unreadable razorpay event not held; the gateway will retry")
        return web.json_response({"error": "try again"}, status=503)
    return web.json_response({"ok": True, "outcome": "held"})


class Numberer:
    """Numbers receipts in the background, one run at a time per process: a payment
    poked while a run is going gets the next run, so under load one run numbers many
    payments, and no webhook waits for the year's counter row (the one row every
    payment shares). The thanks go out after each run's commit. A run that fails
    leaves its payments to the next poke or the reconciling cron."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.again = False
        self.task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.get_running_loop().create_task(self._run())
        self.bot._pending.add(self.task)  # the bot's drain() waits for it, as for sends
        self.task.add_done_callback(self.bot._pending.discard)

    async def _run(self) -> None:
        bot = self.bot
        while True:
            self.again = False
            try:
                effect_ids = await donation_payments.number_pending(
                    bot.session_factory, now=datetime.now(UTC), settings=bot.settings
                )
                if effect_ids:
                    await effects.deliver(bot.db, bot.settings, bot.conversation.ports, effect_ids)
            except Exception:  # the payments are recorded: the next run or the cron
                log.exception("receipts not numbered now; left to the next run or the cron")
            if not self.again:
                return


NUMBERER = web.AppKey("numberer", Numberer)


async def receipt_pdf(request: web.Request, bot: Bot) -> web.StreamResponse:
    now = datetime.now(UTC)
    donation_id = receipts.check_link(
        bot.settings,
        request.match_info["donation_id"],
        request.query.get("e", ""),
        request.query.get("s", ""),
        now,
    )
    if donation_id is None:
        return web.json_response(
            {"error": "this receipt link is not valid or has expired"}, status=403
        )
    async with bot.session_factory() as session:
        data = await donation_payments.receipt_data(session, donation_id)
    if data is None:
        return web.json_response({"error": "no such receipt"}, status=404)
    # ~0.1 s of fonts and shaping: off the event loop, which serves the webhooks
    pdf = await asyncio.to_thread(receipts.render_pdf, bot.settings, data)
    filename = data.number.replace("/", "-") + ".pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
