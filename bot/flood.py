"""A member who floods is slowed, not the others.

Each (channel, address) may send ``inbound_limit_messages`` messages per
``inbound_limit_window_seconds``, counted in Redis before the conversation engine runs,
so a flood costs one Redis call per message, not a database transaction and a reply each.
The first message over the limit is answered once with a polite "please slow down"; the
rest of the window is dropped: acknowledged to the provider, counted in a metric, and
neither stored nor answered. The next window starts afresh.

The count is a fixed window (one counter per address, expiring with the window), in one
Lua script, so one round trip. A provider's retry of a message it already delivered keeps
the verdict the first copy had (by provider message id): a retry is not a second message,
and a retried slow-down is not sent twice.

The counter's key names the address by a keyed HMAC, never the number itself: Redis
holds no phone number, even for the few seconds of a window.

The member's language is in PostgreSQL, which is what the limit is there to spare, so the
slow-down says it in Tamil and then English.
"""

from __future__ import annotations

import enum

from redis.asyncio import Redis

from core.channels.base import InboundMessage, Reply
from core.config import Settings
from core.i18n import N_, bilingual
from core.security import keyed_hmac

KEY_PREFIX = "vck:flood:"

_COUNT = """
local seen = redis.call('GET', KEYS[2])
if seen then
  return {tonumber(seen), 1}
end
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
redis.call('SET', KEYS[2], n, 'PX', ARGV[1])
return {n, 0}
"""

SLOW_DOWN = N_("You are sending messages very fast. Please wait a few seconds and try again.")


class Verdict(enum.StrEnum):
    ANSWER = "answer"
    SLOW_DOWN = "slow_down"
    DROP = "drop"


def slow_down_reply() -> Reply:
    """The one reply a flooding member gets: the same sentence in Tamil, then English."""
    return Reply(bilingual(SLOW_DOWN))


def counter_key(settings: Settings, channel: str, address: str) -> str:
    """The window's counter for one address (a keyed HMAC of it, not the number)."""
    secret = settings.secret_key.get_secret_value()
    return KEY_PREFIX + keyed_hmac(secret, "flood", channel, address)[:32]


async def admit(redis: Redis, settings: Settings, message: InboundMessage) -> Verdict:
    """What to do with ``message``: answer it, ask the member to slow down, or drop it.
    A limit of 0 or less turns the gate off."""
    limit = settings.inbound_limit_messages
    if limit <= 0:
        return Verdict.ANSWER
    window_ms = max(1, round(settings.inbound_limit_window_seconds * 1000))
    # Registering only hashes the text; the call is EVALSHA (EVAL once per server).
    count, retried = await redis.register_script(_COUNT)(
        keys=[
            counter_key(settings, message.channel.value, message.address),
            f"{KEY_PREFIX}seen:{message.provider}:{message.provider_message_id}",
        ],
        args=[window_ms],
    )
    if count <= limit:
        return Verdict.ANSWER  # a retry goes on too: the engine knows it is one
    if count == limit + 1 and not retried:
        return Verdict.SLOW_DOWN
    return Verdict.DROP
