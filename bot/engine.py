"""The conversation engine: one inbound message in, the replies out.

Per message: load the conversation state (Redis), open one database transaction, apply
the global words, run the current flow step, commit, save the state, then run the side
effects the step queued (sends to other people never precede the commit).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import Context
from bot.conversation import Answer, Done, Goto, Outcome, Retry, StateStore
from bot.flows import FLOWS, MENU, common
from bot.outbox import Outbox
from core.channels.base import Channel, InboundMessage, Reply
from core.config import Settings
from core.i18n import Language, _, use_language
from core.models import ChannelAddress, Member
from core.services import addresses, members
from core.validation import normalise_text

log = logging.getLogger(__name__)

# The two statements every message runs, as plain SQL (no ORM work on the hot path).
CLAIM = text(
    "INSERT INTO messages (direction, channel, address, provider, provider_message_id,"
    " status, created_at) VALUES ('in', :channel, :address, :provider,"
    " :provider_message_id, 'received', :at)"
    " ON CONFLICT (provider, provider_message_id) DO NOTHING RETURNING id"
)
RECORD_REPLY = text(
    "INSERT INTO messages (direction, channel, address, provider, body, status)"
    " VALUES ('out', :channel, :address, :provider, :body, 'replied')"
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
        session_factory: async_sessionmaker[AsyncSession],
        redis: Redis,
        outbox: Outbox,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.redis = redis
        self.outbox = outbox
        self.store = StateStore(redis, settings.conversation_idle_minutes * 60)

    async def handle(self, message: InboundMessage) -> list[Reply]:
        """The replies to one inbound message; none for a provider's retry of a message
        already handled (the inbound log's unique key makes processing exactly once)."""
        conv, timed_out = await self.store.load(message.channel, message.address)
        now = datetime.now(UTC)
        async with self.session_factory() as session, session.begin():
            if not await self._claim(session, message):
                return []
            address, member = await self._who(session, message, now)
            ctx = Context(
                settings=self.settings,
                session=session,
                redis=self.redis,
                message=message,
                conv=conv,
                now=now,
                address=address,
                member=member,
                language=Language(
                    (member.language if member else None)
                    or (address.language if address else None)
                    or conv.language
                    or Language.TAMIL
                ),
                outbox=self.outbox,
            )
            if address is not None and (
                address.last_inbound_at is None or now - address.last_inbound_at > TOUCH_EVERY
            ):
                ctx.address = await addresses.touch_inbound(
                    session, message.channel, message.address, now=now
                )
            with use_language(ctx.language):
                reply = await self._step(ctx, to_answer(message), timed_out)
            await self._record_reply(session, message, reply)
        await self.store.save(message.channel, message.address, conv)
        for effect in ctx.after_commit:
            try:
                await effect()
            except Exception:  # a failed side send must not lose the member's reply
                log.exception("side effect failed after commit")
        return [reply]

    async def _who(
        self, session: AsyncSession, message: InboundMessage, now: datetime
    ) -> tuple[ChannelAddress | None, Member | None]:
        address = await session.scalar(
            select(ChannelAddress).where(
                ChannelAddress.channel == message.channel.value,
                ChannelAddress.address == message.address,
            )
        )
        member = None
        if address is not None:
            # Signup links every phone-based address of the phone, so a known address
            # without a member is not a member.
            if address.member_id is not None:
                member = await session.get(Member, address.member_id)
        elif message.channel is not Channel.TELEGRAM:
            member = await members.find_by_phone(session, message.address)
            if member is not None:
                # A member writing from a new number-based channel: their consent was given
                # when they joined; remember this address for them.
                address = await addresses.link_member(
                    session,
                    message.channel,
                    message.address,
                    member_id=member.id,
                    phone=member.phone,
                    now=now,
                )
        return address, member

    async def _step(self, ctx: Context, answer: Answer, timed_out: bool) -> Reply:
        conv = ctx.conv
        word = (
            None if (answer.choice_id or answer.latitude is not None) else global_word(answer.text)
        )

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

    async def _claim(self, session: AsyncSession, message: InboundMessage) -> bool:
        """Log the inbound message (without its body: membership is sensitive). False when
        it was logged before — a retry. A concurrent retry waits on the unique key until
        the first attempt commits or rolls back."""
        claimed = await session.scalar(
            CLAIM,
            {
                "channel": message.channel.value,
                "address": message.address,
                "provider": message.provider,
                "provider_message_id": message.provider_message_id,
                "at": message.received_at,
            },
        )
        return claimed is not None

    async def _record_reply(
        self, session: AsyncSession, message: InboundMessage, reply: Reply
    ) -> None:
        await session.execute(
            RECORD_REPLY,
            {
                "channel": message.channel.value,
                "address": message.address,
                "provider": message.provider,
                "body": reply.as_plain_text(),
            },
        )
