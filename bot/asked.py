"""Buttons are bound to the message they were shown with (security review L3).

Telegram keeps old inline keyboards pressable, and WhatsApp old quick replies: an
official who opened member X's "Verify" screen, went back and opened Y's, could press
X's old "Verify" and verify Y. So after each reply the bot remembers, per conversation,
the provider's id of the message that carries the current buttons (or that the current
message has none); a button press names the message it was on (Twilio
``OriginalRepliedMessageSid``, Telegram's callback message), and a press on any other
message is stale: it is handled as an empty answer, which re-asks the current question.

An event's invitation is the exception: its buttons (``rsvp:…``, core/services/
invitations.py) came with a message of the fan-out, not with a reply, and name their own
invitation, so a press on them is never stale.

When the id of the current message is unknown (a reply that went to the priority lane),
nothing is remembered and presses are taken as they come: the check fails open, never
shut, so a member is never stuck. The key is a keyed HMAC of the address, not the
number.
"""

from __future__ import annotations

from dataclasses import replace

from redis.asyncio import Redis

from core.channels.base import Channel, InboundMessage
from core.config import Settings
from core.security import keyed_hmac
from core.services import invitations

KEEP_SECONDS = 24 * 3600
NO_BUTTONS = "-"


def key(settings: Settings, channel: Channel, address: str) -> str:
    secret = settings.secret_key.get_secret_value()
    return "vck:asked:" + keyed_hmac(secret, "asked", channel.value, address)[:32]


async def shown(
    redis: Redis,
    settings: Settings,
    channel: Channel,
    address: str,
    *,
    buttons: bool,
    message_id: str | None,
) -> None:
    """The bot's reply went out: with buttons on message ``message_id``, or none."""
    where = key(settings, channel, address)
    if not buttons:
        await redis.set(where, NO_BUTTONS, ex=KEEP_SECONDS)
    elif message_id:
        await redis.set(where, message_id, ex=KEEP_SECONDS)
    else:
        await redis.delete(where)


async def fresh(redis: Redis, settings: Settings, message: InboundMessage) -> InboundMessage:
    """``message``, or an empty answer when it presses a button of an earlier message."""
    if message.choice_id is None or message.replied_to is None:
        return message
    if invitations.is_tap(message.choice_id):  # bound to its invitation, not to a screen
        return message
    current = await redis.get(key(settings, message.channel, message.address))
    if current is None or current.decode() == message.replied_to:
        return message
    return replace(message, choice_id=None, text="")
