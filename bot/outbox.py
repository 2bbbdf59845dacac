"""Where a conversation step's effects go when nothing is really sent: tests read them,
the console prints them. The bot's real ports are in bot/senders.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.channels.base import Channel, Reply


class RecordingOutbox:
    """Keeps what would leave the process (core.effects.Ports)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Channel, str, str]] = []
        self.published: list[uuid.UUID] = []

    async def send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        sms_template: str | None = None,
        *,
        key: str | None = None,
    ) -> None:
        self.sent.append((channel, address, reply.as_plain_text()))

    async def send_sms(self, phone: str, text: str, *, template: str) -> None:
        self.sent.append((Channel.SMS, phone, text))

    async def schedule_publish(
        self, announcement_id: uuid.UUID, publish_at: datetime | None
    ) -> None:
        self.published.append(announcement_id)
