"""What a flow step gets: the message, the member, one database transaction, and a
list of side effects to run once that transaction has committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import ConversationState
from bot.outbox import Outbox
from core.channels.base import InboundMessage
from core.config import Settings
from core.i18n import Language
from core.models import ChannelAddress, Member
from core.services import officials

AfterCommit = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Context:
    settings: Settings
    session: AsyncSession
    redis: Redis
    message: InboundMessage
    conv: ConversationState
    now: datetime
    address: ChannelAddress | None
    member: Member | None
    language: Language
    outbox: Outbox
    after_commit: list[AfterCommit] = field(default_factory=list)
    _permissions: frozenset[str] | None = None

    async def permissions(self) -> frozenset[str]:
        """What the member may do as an official (looked up once per message)."""
        if self.member is None:
            return frozenset()
        if self._permissions is None:
            self._permissions = await officials.permissions_of(self.session, self.member.id)
        return self._permissions

    @property
    def data(self) -> dict:
        return self.conv.data

    @property
    def phone(self) -> str | None:
        """The member's proven phone: the sender on WhatsApp, SMS and the console; the
        linked phone on Telegram."""
        if self.member is not None:
            return self.member.phone
        if self.address is not None and self.address.phone:
            return self.address.phone
        if self.message.channel.value in ("whatsapp", "sms", "console"):
            return self.message.address
        return None

    def later(self, effect: AfterCommit) -> None:
        """Run ``effect`` after the transaction commits (sends never precede the commit)."""
        self.after_commit.append(effect)
