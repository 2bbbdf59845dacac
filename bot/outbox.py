"""Messages to people other than the one writing: OTP codes by SMS, officials told of a
new signup. Flows queue them with ``ctx.later``; they leave only after the commit."""

from __future__ import annotations

import logging
from typing import Protocol

from core.channels.base import Channel, Reply

log = logging.getLogger(__name__)


class Outbox(Protocol):
    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        """A message to someone on a channel they use."""

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        """An SMS (OTP codes): Indian numbers through the DLT provider with ``template``'s
        registered ids, others through Twilio."""


class RecordingOutbox:
    """Keeps what would be sent; the console prints it, tests read it."""

    def __init__(self) -> None:
        self.sent: list[tuple[Channel, str, str]] = []

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        self.sent.append((channel, address, reply.as_plain_text()))

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        self.sent.append((Channel.SMS, phone, text))
