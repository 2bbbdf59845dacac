"""Where a conversation is, per (channel, address), in Redis: short-lived and hot.
Losing it costs a re-prompt, never data — durable facts go to PostgreSQL through core
services."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from core.channels.base import Channel
from core.security import keyed_hmac


@dataclass(slots=True)
class ConversationState:
    flow: str | None = None
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    """Chosen before consent, when nothing may be stored in PostgreSQL yet."""
    updated_at: float = 0.0
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
        """A saved state. Those saved before :class:`bot.conversation.Call` existed kept the
        way back in ``data``."""
        state = cls(**json.loads(raw))
        if after := state.data.pop("after_step_up", None):
            state.calls.append(list(after))
        if state.data.pop("then", None) == "signup":
            state.calls.append(["signup", "name"])
        return state


def state_key(secret: str, channel: Channel, address: str) -> str:
    """A conversation's Redis key: a keyed HMAC of (channel, address), so Redis never
    names a member's number (as the flood and button keys)."""
    return "vck:conv:" + keyed_hmac(secret, "conv", channel.value, address)[:32]


class StateStore:
    """Conversation state in Redis, keyed by (channel, address) through :func:`state_key`.

    Keys live a day so an idle conversation can be told it timed out; the idle timeout
    itself is judged from ``updated_at``."""

    KEEP_SECONDS = 24 * 3600

    def __init__(self, redis: Redis, idle_seconds: int, secret: str) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds
        self.secret = secret

    def key(self, channel: Channel, address: str) -> str:
        return state_key(self.secret, channel, address)

    async def load(self, channel: Channel, address: str) -> tuple[ConversationState, bool]:
        """The state and whether an unfinished flow went idle past the timeout."""
        raw = await self.redis.get(self.key(channel, address))
        if raw is None:
            return ConversationState(), False
        state = ConversationState.from_json(raw)
        timed_out = state.flow is not None and time.time() - state.updated_at > self.idle_seconds
        if timed_out:
            state.reset()
        return state, timed_out

    async def save(self, channel: Channel, address: str, state: ConversationState) -> None:
        state.updated_at = time.time()
        await self.redis.set(
            self.key(channel, address), json.dumps(asdict(state)), ex=self.KEEP_SECONDS
        )
