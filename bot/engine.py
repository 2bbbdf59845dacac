"""The conversation engine: one inbound message in, the replies out.

Per message: load the conversation state (Redis), open one database transaction that
logs the message and reads who wrote it (one statement), apply the global words, run the
current flow step, record the reply, commit, save the state, then run the side effects
the step queued (sends to other people never precede the commit).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.context import Context, KnownAddress, KnownMember
from bot.conversation import Answer, ConversationState, Done, Goto, Outcome, Retry, StateStore
from bot.flows import FLOWS, MENU, common
from bot.outbox import Outbox
from core.channels.base import Channel, InboundMessage, Reply
from core.config import Settings
from core.i18n import Language, _, use_language
from core.jobs import Jobs, redis_jobs
from core.services import addresses, members, officials
from core.validation import normalise_text

log = logging.getLogger(__name__)

# What every message runs, as plain SQL on the driver connection (no ORM work on the hot
# path): log the message — a provider's retry finds it logged and stops there — and read,
# in the same statement, who is writing and what they may do as an official.
CLAIM_AND_WHO = f"""
WITH claim AS (
    INSERT INTO messages (direction, channel, address, provider, provider_message_id,
                          status, created_at)
    VALUES ('in', $1, $2, $3, $4, 'received', $5)
    ON CONFLICT (provider, provider_message_id) DO NOTHING
    RETURNING id
)
SELECT EXISTS (SELECT FROM claim) AS claimed, a.id AS address_id, a.member_id, a.phone,
       a.language, a.consent_given_at, a.opted_out_at, a.last_inbound_at,
       m.phone AS member_phone, m.language AS member_language,
       {officials.PERMISSIONS_SQL.format(member_id="m.id")} AS permissions
FROM (VALUES (1)) AS one
LEFT JOIN channel_addresses AS a ON a.channel = $1 AND a.address = $2
LEFT JOIN members AS m ON m.id = a.member_id
"""
TOUCH = (
    "UPDATE channel_addresses SET last_inbound_at = greatest(last_inbound_at, $3),"
    " updated_at = $3 WHERE channel = $1 AND address = $2"
)
RECORD_REPLY = (
    "INSERT INTO messages (direction, channel, address, provider, body, status)"
    " VALUES ('out', $1, $2, $3, $4, 'replied')"
)

TOUCH_EVERY = timedelta(minutes=1)
"""How fresh ``last_inbound_at`` is kept (WhatsApp's 24-hour window): one write a minute
per address, not one per message."""


class Word(enum.Enum):
    HELP = "help"
    MENU = "menu"
    STOP = "stop"
    START = "start"
    LANGUAGE = "language"
    CANCEL = "cancel"


GLOBAL_WORDS: dict[str, Word] = {
    "help": Word.HELP,
    "உதவி": Word.HELP,
    "menu": Word.MENU,
    "0": Word.MENU,
    "௦": Word.MENU,
    "மெனு": Word.MENU,
    "stop": Word.STOP,
    "நிறுத்து": Word.STOP,
    "start": Word.START,
    "தொடங்கு": Word.START,
    "language": Word.LANGUAGE,
    "மொழி": Word.LANGUAGE,
    "cancel": Word.CANCEL,
    "ரத்து": Word.CANCEL,
}


def global_word(text: str) -> Word | None:
    return GLOBAL_WORDS.get(text.casefold().strip(" .!?/"))


def to_answer(message: InboundMessage) -> Answer:
    contact = message.contact
    return Answer(
        text=normalise_text(message.text),
        choice_id=message.choice_id,
        latitude=message.location.latitude if message.location else None,
        longitude=message.location.longitude if message.location else None,
        contact_phone=contact.phone if contact else None,
        contact_is_own=bool(
            contact and contact.user_id is not None and contact.user_id == message.sender_user_id
        ),
    )


class Engine:
    def __init__(
        self,
        settings: Settings,
        db: AsyncEngine,
        redis: Redis,
        outbox: Outbox,
        jobs: Jobs | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.outbox = outbox
        self.jobs = jobs or redis_jobs(redis)
        self.store = StateStore(redis, settings.conversation_idle_minutes * 60)

    async def handle(self, message: InboundMessage) -> list[Reply]:
        """The replies to one inbound message; none for a provider's retry of a message
        already handled (the inbound log's unique key makes processing exactly once).

        One transaction per message, begun on the driver connection: the log entry,
        everything the flow step writes (its ORM session joins the transaction as a
        savepoint, see :attr:`Context.session`) and the reply commit together or not at
        all. A retry that arrives meanwhile waits on the log's unique key."""
        conv, timed_out = await self.store.load(message.channel, message.address)
        now = datetime.now(UTC)
        async with self.db.connect() as connection:
            pg = (await connection.get_raw_connection()).driver_connection
            async with pg.transaction():
                who = await pg.fetchrow(
                    CLAIM_AND_WHO,
                    message.channel.value,
                    message.address,
                    message.provider,
                    message.provider_message_id,
                    message.received_at,
                )
                if not who["claimed"]:
                    return []
                ctx = self._context(connection, message, conv, now, who)
                try:
                    if ctx.address is None and message.channel is not Channel.TELEGRAM:
                        await self._first_from_member(ctx)
                    elif isinstance(ctx.address, KnownAddress) and (
                        ctx.address.last_inbound_at is None
                        or now - ctx.address.last_inbound_at > TOUCH_EVERY
                    ):
                        await pg.execute(TOUCH, message.channel.value, message.address, now)
                        ctx.address = replace(ctx.address, last_inbound_at=now)
                    with use_language(ctx.language):
                        reply = await self._step(ctx, to_answer(message), timed_out)
                    await ctx.commit()
                finally:
                    await ctx.close()
                await pg.execute(
                    RECORD_REPLY,
                    message.channel.value,
                    message.address,
                    message.provider,
                    reply.as_plain_text(),
                )
        await self.store.save(message.channel, message.address, conv)
        for effect in ctx.after_commit:
            try:
                await effect()
            except Exception:  # a failed side send must not lose the member's reply
                log.exception("side effect failed after commit")
        return [reply]

    def _context(
        self,
        connection: AsyncConnection,
        message: InboundMessage,
        conv: ConversationState,
        now: datetime,
        who: Mapping[str, Any],
    ) -> Context:
        address = member = None
        if who["address_id"] is not None:
            address = KnownAddress(
                member_id=who["member_id"],
                phone=who["phone"],
                language=who["language"],
                consent_given_at=who["consent_given_at"],
                opted_out_at=who["opted_out_at"],
                last_inbound_at=who["last_inbound_at"],
            )
        # Signup links every phone-based address of the phone, so a known address
        # without a member is not a member.
        if who["member_phone"] is not None:  # the member row was found
            member = KnownMember(who["member_id"], who["member_phone"])
        return Context(
            settings=self.settings,
            connection=connection,
            redis=self.redis,
            message=message,
            conv=conv,
            now=now,
            address=address,
            member=member,
            language=Language(
                who["member_language"] or who["language"] or conv.language or Language.TAMIL
            ),
            outbox=self.outbox,
            jobs=self.jobs,
            permissions_known=(member.id, frozenset(who["permissions"])) if member else None,
        )

    async def _first_from_member(self, ctx: Context) -> None:
        """A member writing from a number-based channel never seen before: their consent
        was given when they joined; remember this address for them."""
        member = await members.find_by_phone(ctx.session, ctx.message.address)
        if member is None:
            return
        ctx.member = member
        ctx.language = Language(member.language or ctx.language)
        ctx.address = await addresses.link_member(
            ctx.session,
            ctx.message.channel,
            ctx.message.address,
            member_id=member.id,
            phone=member.phone,
            now=ctx.now,
        )
        ctx.address = await addresses.touch_inbound(
            ctx.session, ctx.message.channel, ctx.message.address, now=ctx.now
        )

    async def _step(self, ctx: Context, answer: Answer, timed_out: bool) -> Reply:
        conv = ctx.conv
        word = (
            None if (answer.choice_id or answer.latitude is not None) else global_word(answer.text)
        )
        if ctx.message.provider_opt_out is not None:  # the provider already acted on it
            word = Word.STOP if ctx.message.provider_opt_out else Word.START

        if word is Word.STOP:
            return await self._stop(ctx)
        if word is Word.START:
            if ctx.address is not None and ctx.address.opted_out_at is not None:
                return await self._start(ctx)
            word = None  # Telegram's /start, or START from someone not opted out: a hello

        consented = ctx.member is not None or (
            ctx.address is not None and ctx.address.consent_given_at is not None
        )
        if not consented:
            if conv.flow != "welcome" or word in (Word.MENU, Word.CANCEL) or timed_out:
                first = "language" if conv.language is None else "consent"
                return await self._resolve(ctx, Goto(first, flow="welcome"))
            if word is Word.LANGUAGE:
                return await self._resolve(ctx, Goto("language", flow="welcome"))
            if word is Word.HELP:
                return await self._resolve(ctx, Retry(common.help_text(ctx)))
            return await self._answer(ctx, answer)

        if word is Word.HELP:
            if conv.flow is None:
                return await self._resolve(ctx, Done(common.help_text(ctx)))
            return await self._resolve(ctx, Retry(common.help_text(ctx)))
        if word in (Word.MENU, Word.CANCEL):
            said = _("Cancelled. Nothing was saved.") if conv.flow not in (None, MENU) else None
            return await self._resolve(ctx, Done(said))
        if word is Word.LANGUAGE:
            return await self._resolve(ctx, Goto("choose", flow="language"))
        if conv.flow is None or timed_out:
            said = None
            if timed_out:
                said = _("We had not heard from you for a while, so we started again.")
            return await self._resolve(ctx, Done(said))
        return await self._answer(ctx, answer)

    async def _answer(self, ctx: Context, answer: Answer) -> Reply:
        assert ctx.conv.flow and ctx.conv.state
        question = FLOWS[ctx.conv.flow].question(ctx.conv.state)
        with use_language(ctx.language):
            outcome = await question.answer(ctx, answer)
        return await self._resolve(ctx, outcome)

    async def _resolve(self, ctx: Context, outcome: Outcome) -> Reply:
        """Turn an outcome into the next question, asked in the member's language."""
        conv = ctx.conv
        if isinstance(outcome, Retry):
            assert conv.flow and conv.state
            prefix, flow, state = outcome.hint, conv.flow, conv.state
        elif isinstance(outcome, Goto):
            prefix, flow, state = outcome.say, outcome.flow or conv.flow, outcome.state
            assert flow
            conv.enter(flow, state)
        else:
            conv.reset()
            conv.enter(MENU, "main")
            prefix, flow, state = outcome.say, MENU, "main"
            if not outcome.menu:
                return Reply(outcome.say or "")
        with use_language(ctx.language):
            question = await FLOWS[flow].question(state).ask(ctx)
        if not prefix:
            return question
        return replace(question, text=f"{prefix}\n\n{question.text}" if question.text else prefix)

    async def _stop(self, ctx: Context) -> Reply:
        ctx.address = await addresses.opt_out(
            ctx.session, ctx.message.channel, ctx.message.address, now=ctx.now
        )
        return Reply(
            _("Done. You will not get any more announcements here. Send START to get them again.")
        )

    async def _start(self, ctx: Context) -> Reply:
        ctx.address = await addresses.opt_in(
            ctx.session, ctx.message.channel, ctx.message.address, now=ctx.now
        )
        said = _("Welcome back. You will get announcements here again.")
        if ctx.member is None and (ctx.address is None or ctx.address.consent_given_at is None):
            return await self._resolve(ctx, Goto("language", flow="welcome", say=said))
        return await self._resolve(ctx, Done(said))
