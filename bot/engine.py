"""The conversation engine: one inbound message in, the replies out.

Per message, one database transaction: lock the conversation and read its state (one
statement), log the message and read who wrote it (one statement), apply the global
words, run the current flow step, record the step's effects (core/effects.py), save the
state and record the reply (one statement), commit; then deliver the effects (sends to
other people never precede the commit, and survive a crash after it).

One message at a time per conversation: messages from one (channel, address) are
handled in arrival order and never concurrently, in this process or any other — the
lock is the row lock on the conversation's state row (core/services/conversations.py),
taken by the transaction's first statement and held until its commit. Without it two
quick answers to "Send?" both read the same state and both act on it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import rsvp, words
from bot.context import Context, KnownAddress, KnownMember
from bot.conversation import (
    Answer,
    Call,
    Done,
    Fallback,
    Goto,
    Outcome,
    Retry,
    Return,
    Word,
)
from bot.flows import FLOWS, MENU, common, grievance, language, welcome
from bot.inbox import CLAIM_AND_WHO, SAVE_AND_RECORD_REPLY, TOUCH
from bot.state import ConversationState, StateStore
from core import effects
from core.channels.base import Channel, InboundMessage, Reply
from core.config import Settings
from core.i18n import Language, _, use_language
from core.payments import RazorpayClient
from core.services import addresses, members
from core.services.conversations import SAVE
from core.validation import normalise_text

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(minutes=1)
"""How fresh ``last_inbound_at`` is kept (WhatsApp's 24-hour window): one write a minute
per address, not one per message."""


GLOBAL_WORDS: dict[str, Word] = {
    word: meaning
    for meaning, forms in (
        (Word.HELP, words.HELP),
        (Word.MENU, words.MENU),
        (Word.STOP, words.STOP),
        (Word.START, words.START),
        (Word.LANGUAGE, words.LANGUAGE),
        (Word.CANCEL, words.CANCEL),
    )
    for word in forms
}
"""Every form of every global word (:mod:`bot.words`), folded as typed text is."""


def global_word(text: str) -> Word | None:
    return GLOBAL_WORDS.get(words.fold(text, "/"))


def _help(ctx: Context) -> Outcome:
    text = common.help_text(ctx)
    return Retry(text) if ctx.conv.flow else Done(text)


def _leave(ctx: Context) -> Outcome:
    in_flow = ctx.conv.flow not in (None, MENU)
    return Done(_("Cancelled. Nothing was saved.") if in_flow else None)


FALLBACKS: dict[Word, Fallback] = {
    Word.HELP: _help,
    Word.MENU: _leave,
    Word.CANCEL: _leave,
    Word.LANGUAGE: lambda ctx: Goto(flow="language"),
}
"""What the global words do, unless the current flow declares otherwise
(:attr:`Flow.fallbacks`). STOP and START are not here: no flow may change them."""


def private_step(flow: str | None, state: str | None) -> bool:
    """Whether the question ``state`` of ``flow`` is declared private (Ask.private)."""
    found = FLOWS.get(flow) if flow else None
    return bool(found and state in found.states and found.states[state].private)


def to_answer(message: InboundMessage) -> Answer:
    contact = message.contact
    return Answer(
        text=normalise_text(message.text),
        choice_id=message.choice_id,
        latitude=message.location.latitude if message.location else None,
        longitude=message.location.longitude if message.location else None,
        location=message.location,
        contact_phone=contact.phone if contact else None,
        contact_is_own=bool(
            contact and contact.user_id is not None and contact.user_id == message.sender_user_id
        ),
        media=message.media,
    )


class _Retried(Exception):
    """A provider's retry of a message already handled: its transaction rolls back."""


class Engine:
    def __init__(
        self, settings: Settings, db: AsyncEngine, redis: Redis, ports: effects.Ports
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.ports = ports
        self.gateway = RazorpayClient(settings)
        """The payment gateway, for the donate flow's links (opened on first use)."""
        self.store = StateStore(
            settings.secret_key.get_secret_value(), settings.conversation_idle_minutes * 60
        )

    async def handle(self, message: InboundMessage) -> list[Reply]:
        """The replies to one inbound message; none for a provider's retry of a message
        already handled (the inbound log's unique key makes processing exactly once).

        One transaction per message, begun on the driver connection: the conversation's
        lock and state, the log entry, everything the flow step writes (its ORM session
        joins the transaction as a savepoint, see :attr:`Context.session`), the reply and
        the new state commit together or not at all. A retry that arrives meanwhile waits
        on the conversation's lock, then finds the message logged."""
        async with self.db.connect() as connection:
            pg = (await connection.get_raw_connection()).driver_connection
            assert pg is not None
            try:
                handled = await self._handle_in_transaction(connection, pg, message)
            except _Retried:
                return []
        reply, effect_ids = handled
        if effect_ids:
            try:
                await effects.deliver(self.db, self.settings, self.ports, effect_ids)
            except Exception:  # the worker's sweep delivers them; the reply still goes
                log.exception("effects not delivered at once; left to the sweep")
        return [reply]

    async def _handle_in_transaction(
        self, connection: AsyncConnection, pg: Any, message: InboundMessage
    ) -> tuple[Reply, list[int]]:
        now = datetime.now(UTC)
        key = self.store.key(message.channel, message.address)
        async with pg.transaction():
            conv, timed_out, saved_at = await self.store.lock_and_load(pg, key, now)
            answered = private_step(conv.flow, conv.state)
            who = await pg.fetchrow(
                CLAIM_AND_WHO,
                message.channel.value,
                message.address,
                message.provider,
                message.provider_message_id,
                message.received_at,
                message.channel is not Channel.TELEGRAM,  # number-based channels
            )
            if not who["claimed"]:
                raise _Retried  # rolled back: the retry leaves no state row behind
            ctx = self._context(connection, pg, message, conv, now, who, saved_at)
            private = bool(conv.flow and FLOWS[conv.flow].private)
            try:
                if who["phone_member_id"] is not None:
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
            # Replies to strangers are logged without text: a signup left half-way
            # echoed its answers, and nobody agreed to keep them (review H3).
            # A grievance's text is kept in its ticket, never in the message log.
            private = private or bool(conv.flow and FLOWS[conv.flow].private)
            keep_text = ctx.member is not None and ctx.log_as is None and not private
            # A private step (a ballot, a receipt) leaves no reply in the log at all.
            if answered or private_step(conv.flow, conv.state):
                await pg.execute(SAVE, key, conv.to_json(), now)
            else:
                await pg.execute(
                    SAVE_AND_RECORD_REPLY,
                    key,
                    conv.to_json(),
                    now,
                    message.channel.value,
                    ctx.log_as or message.address,
                    message.provider,
                    reply.as_plain_text() if keep_text else None,
                )
        return reply, ctx.effect_ids

    def _context(
        self,
        connection: AsyncConnection,
        pg: Any,
        message: InboundMessage,
        conv: ConversationState,
        now: datetime,
        who: Mapping[str, Any],
        saved_at: datetime,
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
            pg=pg,
            redis=self.redis,
            message=message,
            conv=conv,
            now=now,
            address=address,
            member=member,
            language=Language(
                who["member_language"] or who["language"] or conv.language or Language.TAMIL
            ),
            permissions_known=(member.id, frozenset(who["permissions"])) if member else None,
            conv_saved_at=saved_at,
            grievance_waiting=bool(who["grievance_waiting"]),
            gateway=self.gateway,
        )

    async def _first_from_member(self, ctx: Context) -> None:
        """A member writing from a number-based channel never seen before: their consent
        was given when they joined; remember this address for them."""
        member = await members.find_by_phone(ctx.session, ctx.message.address)
        if member is None or member.phone is None:
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
        if not consented and (conv.flow != welcome.FLOW.name or timed_out):
            return await self._resolve(ctx, welcome.start(ctx))
        if answer.choice_id and ctx.member is not None:
            # An invitation's button names its event: answered wherever the member is.
            tapped = await rsvp.tapped(ctx, answer)
            if tapped is not None:
                return await self._resolve(ctx, tapped)
        if word is not None:
            own = FLOWS[conv.flow].fallbacks if conv.flow else {}
            fallback = own[word] if word in own else FALLBACKS[word]
            if fallback is not None:
                return await self._resolve(ctx, fallback(ctx))
        named = None if word or answer.choice_id else words.language_named(answer.text)
        if named and not await self._takes_itself(ctx, answer, timed_out):
            switched = await language.switch(ctx, named)
            in_flow = conv.flow is not None and not timed_out
            return await self._resolve(ctx, Retry(switched) if in_flow else Done(switched))
        idle = conv.flow in (None, MENU) or timed_out
        if ctx.grievance_waiting and ctx.member is not None and word is None and idle:
            # An official's question, or a resolved ticket's rating, waits for this
            # member: their next message may be the answer (bot/flows/grievance.py).
            waiting = await grievance.waiting(ctx, answer)
            if waiting is not None:
                return await self._resolve(ctx, waiting)
        if ctx.member is not None and word is None and idle and not answer.choice_id:
            # A yes or no with no question pending: the answer to an invitation, if the
            # member has one to answer (one statement, only for a yes or no).
            answered = await rsvp.typed(ctx, answer, at_menu=conv.flow == MENU and not timed_out)
            if answered is not None:
                return await self._resolve(ctx, answered)
        if conv.flow is None or timed_out:
            said = None
            if timed_out:
                said = _("We had not heard from you for a while, so we started again.")
            return await self._resolve(ctx, Done(said))
        return await self._answer(ctx, answer)

    async def _takes_itself(self, ctx: Context, answer: Answer, timed_out: bool) -> bool:
        """Whether the question asked takes ``answer`` as it is: a free-text answer (a
        name, an announcement's text) or one of its choices ("English" to "Which
        language?"). Anywhere else a language's name switches to it."""
        conv = ctx.conv
        if conv.flow is None or conv.state is None or timed_out:
            return False
        ask = FLOWS[conv.flow].question(conv.state)
        if not ask.choices:
            return True
        with use_language(ctx.language):
            return answer.pick(await ask.options(ctx), ask.words) is not None

    async def _answer(self, ctx: Context, answer: Answer) -> Reply:
        assert ctx.conv.flow and ctx.conv.state
        flow = FLOWS[ctx.conv.flow]
        if not await flow.requires.allows(ctx):
            return await self._resolve(ctx, Done())
        with use_language(ctx.language):
            outcome = await flow.question(ctx.conv.state).take(ctx, answer)
        if isinstance(outcome, Goto):  # the entry, named, so it matches the declaration
            target = FLOWS[outcome.flow] if outcome.flow else flow
            outcome = replace(outcome, state=outcome.state or target.entry, flow=target.name)
        flow.check(ctx.conv.state, outcome)
        return await self._resolve(ctx, outcome)

    async def _resolve(self, ctx: Context, outcome: Outcome) -> Reply:
        """Turn an outcome into the next question, asked in the member's language."""
        conv = ctx.conv
        if isinstance(outcome, Return) and not conv.calls:  # not called: back to the menu
            outcome = Done(outcome.say)
        prefix: str | None
        flow: str
        state: str
        if isinstance(outcome, Retry):
            assert conv.flow and conv.state
            prefix, flow, state = outcome.hint, conv.flow, conv.state
        elif isinstance(outcome, Done):
            conv.reset()
            prefix, flow, state = outcome.say, MENU, FLOWS[MENU].entry
            if not outcome.menu:
                conv.enter(flow, state)
                return Reply(outcome.say or "")
        else:
            prefix = outcome.say
            if isinstance(outcome, Return):
                flow, state = conv.calls.pop()
            elif isinstance(outcome, Call):
                conv.calls.append(list(outcome.then))
                flow, state = outcome.flow, FLOWS[outcome.flow].entry
            else:
                flow = outcome.flow or conv.flow or MENU
                state = outcome.state or FLOWS[flow].entry
        if not await FLOWS[flow].requires.allows(ctx):
            conv.reset()
            flow, state = MENU, FLOWS[MENU].entry
        conv.enter(flow, state)
        with use_language(ctx.language):
            question = await FLOWS[flow].question(state).reply(ctx)
        if not prefix:
            return question
        return replace(question, text=f"{prefix}\n\n{question.text}" if question.text else prefix)

    async def _stop(self, ctx: Context) -> Reply:
        ctx.address = await addresses.opt_out(
            ctx.session, ctx.message.channel, ctx.message.address, now=ctx.now
        )
        return Reply(
            # TRANSLATORS: keywords (table: engine.GLOBAL_WORDS) in quotes, as typed. May go by
            # SMS: 70 Tamil characters fit one part, longer ones take a part per 67.
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
