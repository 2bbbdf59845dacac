"""Where a conversation is, per (channel, address): in PostgreSQL, read and written
inside each message's transaction (core/services/conversations.py). Losing it costs a
re-prompt, never data — durable facts go to PostgreSQL through core services."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.services import conversations


@dataclass(slots=True)
class ConversationState:
    flow: str | None = None
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    """Chosen before consent, when nothing may be stored in PostgreSQL yet."""
    calls: list[list[str]] = field(default_factory=list)
    """Where each :class:`bot.conversation.Call` returns to, innermost last, as [flow, state]."""

    def enter(self, flow: str, state: str) -> None:
        """Move on. What was entered stays, also across sub-flows (a phone check in the
        middle of a signup); it is dropped only when the conversation returns to the menu."""
        self.flow, self.state = flow, state

    def reset(self) -> None:
        self.flow, self.state, self.data, self.calls = None, None, {}, []

    @classmethod
    def from_json(cls, raw: str | bytes) -> ConversationState:
        return cls(**json.loads(raw))

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class StateStore:
    """Conversation states, keyed by (channel, address) through
    :func:`core.services.conversations.key`. An idle unfinished flow times out after
    ``idle_seconds`` (judged from when the state was last saved)."""

    def __init__(self, secret: str, idle_seconds: int) -> None:
        self.secret = secret
        self.idle_seconds = idle_seconds

    def key(self, channel: Channel, address: str) -> str:
        return conversations.key(self.secret, channel.value, address)

    async def lock_and_load(
        self, pg: Any, key: str, now: datetime
    ) -> tuple[ConversationState, bool, datetime]:
        """Inside the message's transaction on the driver connection ``pg``: wait for the
        conversation's earlier message, then its state, whether an unfinished flow went
        idle past the timeout, and when the state was saved (the last reply's time)."""
        raw, saved_at = await pg.fetchrow(
            conversations.LOCK_AND_LOAD, key, now, conversations.LOCK_WAIT
        )
        state = ConversationState.from_json(raw)
        timed_out = state.flow is not None and (now - saved_at).total_seconds() > self.idle_seconds
        if timed_out:
            state.reset()
        return state, timed_out, saved_at


async def put_states(
    session: AsyncSession, states: Iterable[tuple[str, ConversationState]], *, now: datetime
) -> None:
    """Set conversations at given questions from outside them (tests, and benchmarks
    that start members mid-flow), in ``session``'s transaction; ``states`` are pairs of
    (:meth:`StateStore.key`, state)."""
    rows = [{"k": key, "state": state.to_json(), "at": now} for key, state in states]
    if rows:
        await session.execute(text(conversations.PUT), rows)
