"""The outbound path for a message to one person: a reply, an OTP code, a notice to an
official. Every process sends it the same way:

- :class:`Senders`, the provider adapters, built once per process at bootstrap;
- :class:`Dispatcher`, "send this reply to this (channel, address) now, with this
  idempotency key", through the provider core.routing picks. The bot calls it inline;
  the notifier's priority lane calls it for what was queued;
- :class:`NowOrQueued`, the bot's outbox for replies to the member writing: a token
  from the priority share of the sender's bucket (core.ratelimit, the same bucket the
  announcements' bulk sends take from, so a reply never pushes the provider past its
  rate), then the dispatcher at once, else — when a provider refuses for now (a 5xx, a
  timeout) — a row of the outbox table (core.effects.record_reply) with the same
  idempotency key and every field of the reply, and a priority-lane job carrying only
  the row's id. A reply is late at worst, never lost; a permanent refusal is raised;
- :class:`PriorityTokens`, that token, for replies, OTP codes and notices alike;
- :class:`EffectPorts`, how a step's effects (core/effects.py: OTP codes, notices to
  officials, publishing) leave: the dispatcher at once, else they wait in the outbox
  table for the worker's sweep, never on a queue. A WhatsApp message it sends outside
  the member's window is counted in the tier (core/whatsapp_tier.py).

Announcements go through the same :class:`Senders` with their own rendering
(notifier/senders.py: templates, per-delivery status callbacks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from core import dlt_templates, effects, routing, whatsapp_tier
from core.channels.base import Channel, Outcome, Reply, SendError, SendResult
from core.channels.dlt import DltSender
from core.channels.telegram import TelegramSender
from core.channels.twilio import TwilioSender
from core.config import Settings
from core.jobs import Jobs
from core.ratelimit import Lane, Limiter

log = logging.getLogger(__name__)


@dataclass
class Senders:
    twilio: TwilioSender
    telegram: TelegramSender
    dlt: DltSender
    twilio_status_url: str
    dlt_status_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Senders:
        """The adapters open their HTTP sessions on first use, inside the event loop."""
        base = settings.public_base_url.rstrip("/")
        return cls(
            TwilioSender(settings),
            TelegramSender(settings),
            DltSender(settings),
            f"{base}/webhooks/twilio/status",
            f"{base}/webhooks/dlt/status",
        )

    async def close(self) -> None:
        for sender in (self.twilio, self.telegram, self.dlt):
            with contextlib.suppress(Exception):
                await sender.close()


class Dispatcher:
    """Sends a reply to one person now, through the provider that carries its channel
    to its address. SMS to DLT numbers goes with the template of ``sms_template`` (an
    OTP), else the template the reply's text is (core/dlt_templates.py)."""

    def __init__(self, senders: Senders, settings: Settings) -> None:
        self.senders = senders
        self.settings = settings
        self.templates = dlt_templates.Registry.from_settings(settings)

    def dlt_template_id(self, text: str, sms_template: str | None) -> str:
        """The registered id of the template ``text`` is. A text no template is, or a key
        without an id in production, is refused loudly: DLT would drop it silently, and
        a wrong id must never be guessed."""
        try:
            key = sms_template or self.templates.match(text).key
        except dlt_templates.NoTemplate as exc:
            log.error("no DLT template is this SMS (%s): not sent", exc)
            raise SendError(
                f"dlt: no template matches the text ({exc})",
                code="dlt-template",
                outcome=Outcome.PERMANENT,
            ) from exc
        template_id = self.templates.template_id(key)
        if template_id is None:
            log.error("DLT template %s has no id in VCK_DLT_TEMPLATE_IDS: not sent", key)
            raise SendError(
                f"dlt: template {key} is not registered",
                code="dlt-template",
                outcome=Outcome.PERMANENT,
            )
        return template_id

    def provider(self, channel: Channel, address: str) -> str:
        return routing.provider_for(channel, address, self.settings.dlt_prefixes)

    async def _send_dlt(
        self, address: str, text: str, key: str, sms_template: str | None
    ) -> SendResult:
        """One SMS under the template of the reply's combination; when that combination
        is not registered but each of its sentences is, one SMS per sentence (more
        parts, but an answer), with a warning naming what to register."""
        pieces: list[tuple[str | None, str]] = [(sms_template, text)]
        if sms_template is None:
            try:
                pieces = [(self.templates.match(text).key, text)]
            except dlt_templates.NoTemplate:
                try:
                    split = self.templates.pieces(text)
                except dlt_templates.NoTemplate:
                    split = []
                if len(split) > 1:
                    log.warning(
                        "DLT combination %s is not registered: sent as %d SMS (add it to %s)",
                        "+".join(dlt_templates.without_language(m.key) for m, _ in split),
                        len(split),
                        dlt_templates.COMBINATIONS_FILE.name,
                    )
                    pieces = [(m.key, part) for m, part in split]
        sent: SendResult | None = None
        ids = [self.dlt_template_id(part, template_key) for template_key, part in pieces]
        for n, ((_, part), template_id) in enumerate(zip(pieces, ids, strict=True)):
            piece_key = key if n == 0 else f"{key}:{n}"
            sent = await self.senders.dlt.send(
                address,
                part,
                template_id=template_id,
                custom_field=piece_key,
                idempotency_key=piece_key,
            )
        assert sent is not None
        return sent

    async def send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        *,
        key: str,
        sms_template: str | None = None,
    ) -> SendResult:
        """Raises :class:`SendError` as the adapter classified the provider's answer."""
        provider = self.provider(channel, address)
        if provider == routing.TELEGRAM:
            return await self.senders.telegram.send(address, reply, idempotency_key=key)
        if provider == routing.DLT:
            return await self._send_dlt(address, reply.as_plain_text(), key, sms_template)
        if provider == routing.TWILIO:
            return await self.senders.twilio.send_text(channel, address, reply, idempotency_key=key)
        raise SendError(
            f"no provider sends to {channel}", code="channel", outcome=Outcome.PERMANENT
        )

    async def send_template(
        self, address: str, content_sid: str, variables: dict[str, str], *, key: str
    ) -> SendResult:
        """An approved WhatsApp template (core/notice_templates.py)."""
        return await self.senders.twilio.send_template(
            address, content_sid, variables, idempotency_key=key
        )


class PriorityTokens:
    """``await tokens(channel, address)``: one token from the reserved (priority) share of
    the bucket of the sender that carries ``channel`` to ``address`` — the bucket bulk
    sends take from too, so replies and announcements together stay within the
    provider's rate. ``strict=False`` (the bot): when Redis cannot be asked, the message
    goes anyway — a member's answer matters more than a moment's pacing, and a 429 it
    meets is retried from the outbox table, which needs no Redis."""

    def __init__(
        self,
        limiter: Limiter,
        dispatcher: Dispatcher,
        *,
        strict: bool = True,
        max_wait: float | None = None,
    ) -> None:
        self.limiter = limiter
        self.dispatcher = dispatcher
        self.strict = strict
        self.max_wait = max_wait
        """Past this, a send error "not now" (the caller retries later), not a longer wait."""

    async def __call__(self, channel: Channel, address: str) -> None:
        provider = self.dispatcher.provider(channel, address)
        if provider == routing.CONSOLE:
            return
        try:
            async with asyncio.timeout(self.max_wait):
                await self.limiter.acquire(routing.bucket_kind(channel, provider), Lane.PRIORITY)
        except TimeoutError as exc:
            raise SendError(
                f"no {channel.value} token in {self.max_wait} s",
                code="rate-held",
                outcome=Outcome.RETRY,
                retry_after=self.max_wait,
            ) from exc
        except Exception as exc:
            if self.strict:
                raise
            log.warning("no priority token for %s (%s): sent unpaced", channel.value,
                        type(exc).__name__)  # fmt: skip


class NowOrQueued:
    """The bot's outbox (bot/outbox.py): the dispatcher at once, else the outbox table
    and the priority lane."""

    TOKEN_WAIT_SECONDS = 2.0
    """How long a reply waits for its token (a provider said "slow down" for a while:
    the bucket is held) before it is handed to the priority lane instead of waiting in
    this process."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        jobs: Jobs,
        db: AsyncEngine,
        before_send: Callable[[Channel, str], Awaitable[None]] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.jobs = jobs
        self.db = db
        self.before_send = before_send

    async def send(self, channel: Channel, address: str, reply: Reply) -> str | None:
        """The provider's id of the message when it went now; None when queued."""
        return await self._now_or_later(channel, address, reply)

    async def _now_or_later(
        self, channel: Channel, address: str, reply: Reply, *, sms_template: str | None = None
    ) -> str | None:
        key = f"vck:reply:{uuid4().hex}"  # the priority lane sends it with this key too
        if self.before_send is not None:
            try:
                async with asyncio.timeout(self.TOKEN_WAIT_SECONDS):
                    await self.before_send(channel, address)
            except TimeoutError:
                log.info("no %s token in %.0f s: queued", channel.value, self.TOKEN_WAIT_SECONDS)
                await queue_reply(
                    self.db, self.jobs, channel, address, reply, key=key, sms_template=sms_template
                )
                return None
        try:
            sent = await self.dispatcher.send(
                channel, address, reply, key=key, sms_template=sms_template
            )
        except SendError as exc:
            if exc.permanent:
                raise
            log.info("%s refused a message for now (%s): queued to retry", channel.value, exc.code)
            await queue_reply(
                self.db, self.jobs, channel, address, reply, key=key, sms_template=sms_template
            )
            return None
        return sent.provider_message_id


async def queue_reply(
    db: AsyncEngine,
    jobs: Jobs,
    channel: Channel,
    address: str,
    reply: Reply,
    *,
    key: str | None = None,
    sms_template: str | None = None,
) -> int:
    """Send ``reply`` through the priority lane: a row of the outbox table, and a job
    carrying its id. Without Redis the job is not written, and the worker's outbox sweep
    sends the row a little later. Returns the row's id."""
    row_id = await effects.record_reply(
        db,
        channel,
        address,
        reply,
        key=key or f"vck:reply:{uuid4().hex}",
        sms_template=sms_template,
    )
    try:
        await jobs.enqueue_reply(row_id)
    except Exception as exc:
        log.warning("reply #%d not enqueued (%s): the outbox sweep sends it", row_id,
                    type(exc).__name__)  # fmt: skip
    return row_id


class EffectPorts:
    """How a conversation step's effects leave the process (core.effects.Ports), in the
    bot and in the worker alike. A send the provider refuses raises, so the effect stays
    in the outbox and the worker's sweep tries again: an OTP code is never put on a
    queue. ``before_send`` lets the worker take the sender's priority token first."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        jobs: Jobs,
        before_send: Callable[[Channel, str], Awaitable[None]] | None = None,
        tier: whatsapp_tier.Ledger | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.jobs = jobs
        self.before_send = before_send
        self.tier = tier

    async def send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        sms_template: str | None = None,
        *,
        key: str | None = None,
    ) -> None:
        if self.before_send is not None:
            await self.before_send(channel, address)
        await self.dispatcher.send(
            channel,
            address,
            reply,
            key=key or f"vck:effect:{uuid4().hex}",
            sms_template=sms_template,
        )
        if self.tier is not None and channel is Channel.WHATSAPP:
            try:  # sent: a failure to count must not make the outbox send it again
                await self.tier.sent(channel, address, now=datetime.now(UTC))
            except Exception as exc:
                log.warning("WhatsApp tier use not recorded (%s)", type(exc).__name__)

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        await self.send(Channel.SMS, phone, Reply(text), template)

    async def send_template(
        self, address: str, content_sid: str, variables: dict[str, str], *, daily_limit: int
    ) -> bool:
        """A notice's utility template, outside the member's window: only when the tier
        has room for them (they already hold a slot, or one is free); counted after."""
        now = datetime.now(UTC)
        if self.tier is not None and not await self.tier.has_room(
            address, now=now, daily_limit=daily_limit
        ):
            return False
        if self.before_send is not None:
            await self.before_send(Channel.WHATSAPP, address)
        await self.dispatcher.send_template(
            address, content_sid, variables, key=f"vck:effect:{uuid4().hex}"
        )
        if self.tier is not None:
            try:  # sent: a failure to count must not make the outbox send it again
                await self.tier.sent(Channel.WHATSAPP, address, now=now)
            except Exception as exc:
                log.warning("WhatsApp tier use not recorded (%s)", type(exc).__name__)
        return True

    async def schedule_publish(
        self, announcement_id: uuid.UUID, publish_at: datetime | None
    ) -> None:
        await self.jobs.schedule_publish(announcement_id, publish_at)
