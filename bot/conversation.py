"""Declared conversation flows and where their state lives.

A flow is a small state machine: named states, one entry state, and for each state a
:class:`Question` — how to ask it, and how to take an answer. An answer either moves on
(:class:`Goto`), finishes (:class:`Done`), or re-asks the same question with a hint
(:class:`Retry`), keeping everything entered so far.

State is per (channel, address) in Redis: short-lived and hot. Losing it costs a
re-prompt, never data — durable facts go to PostgreSQL through core services.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from core.channels.base import Channel, Choice, Reply
from core.validation import parse_choice_number

if TYPE_CHECKING:
    from bot.context import Context


# --- what an answer leads to ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Goto:
    """Move to ``state`` (in ``flow``, default the current one) and ask its question,
    after saying ``say`` if given."""

    state: str
    flow: str | None = None
    say: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Re-ask the current question, prefixed by a hint."""

    hint: str


@dataclass(frozen=True, slots=True)
class Done:
    """End the flow: say ``say`` and show the main menu (unless ``menu`` is False)."""

    say: str | None = None
    menu: bool = True


Outcome = Goto | Retry | Done
Asker = Callable[["Context"], Awaitable[Reply]]
Answerer = Callable[["Context", "Answer"], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Question:
    ask: Asker
    answer: Answerer


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    entry: str
    states: dict[str, Question]

    def question(self, state: str) -> Question:
        return self.states[state]


# --- an answer, as flows see it ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What the member sent, reduced to what flows need."""

    text: str
    choice_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    contact_phone: str | None = None
    contact_is_own: bool = False

    def pick(self, choices: tuple[Choice, ...], words: dict[str, tuple[str, ...]]) -> str | None:
        """The chosen option's id: a button payload, the option's number (ASCII or Tamil
        digits), or one of its words in either language."""
        ids = {c.id for c in choices}
        if self.choice_id in ids:
            return self.choice_id
        number = parse_choice_number(self.text)
        if number is not None and 1 <= number <= len(choices):
            return choices[number - 1].id
        folded = self.text.casefold().strip(" .!")
        if not folded:
            return None
        for choice in choices:
            if folded == choice.label.casefold().strip(" .!"):
                return choice.id
            if folded in (w.casefold() for w in words.get(choice.id, ())):
                return choice.id
        return None


# --- state store -----------------------------------------------------------------------


@dataclass(slots=True)
class ConversationState:
    flow: str | None = None
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    """Chosen before consent, when nothing may be stored in PostgreSQL yet."""
    updated_at: float = 0.0

    def enter(self, flow: str, state: str) -> None:
        """Move on. What was entered stays, also across sub-flows (a phone check in the
        middle of a signup); it is dropped only when the conversation returns to the menu."""
        self.flow, self.state = flow, state

    def reset(self) -> None:
        self.flow, self.state, self.data = None, None, {}


class StateStore:
    """Conversation state in Redis, keyed by (channel, address).

    Keys live a day so an idle conversation can be told it timed out; the idle timeout
    itself is judged from ``updated_at``."""

    KEEP_SECONDS = 24 * 3600

    def __init__(self, redis: Redis, idle_seconds: int) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds

    @staticmethod
    def key(channel: Channel, address: str) -> str:
        return f"vck:conv:{channel.value}:{address}"

    async def load(self, channel: Channel, address: str) -> tuple[ConversationState, bool]:
        """The state and whether an unfinished flow went idle past the timeout."""
        raw = await self.redis.get(self.key(channel, address))
        if raw is None:
            return ConversationState(), False
        state = ConversationState(**json.loads(raw))
        timed_out = state.flow is not None and time.time() - state.updated_at > self.idle_seconds
        if timed_out:
            state.reset()
        return state, timed_out

    async def save(self, channel: Channel, address: str, state: ConversationState) -> None:
        state.updated_at = time.time()
        await self.redis.set(
            self.key(channel, address), json.dumps(asdict(state)), ex=self.KEEP_SECONDS
        )
