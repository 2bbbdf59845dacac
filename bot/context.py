"""What a flow step gets: the message, who wrote it, the message's database transaction,
and a list of side effects to run once that transaction has committed."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.conversation import ConversationState
from bot.outbox import Outbox
from core.channels.base import InboundMessage
from core.config import Settings
from core.i18n import Language
from core.jobs import Jobs
from core.models import ChannelAddress, Member
from core.services import officials

AfterCommit = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class KnownAddress:
    """What the engine reads of the sender's ``channel_addresses`` row with every message.
    Flows that change the row put the ORM row (same attribute names) in its place."""

    member_id: uuid.UUID | None
    phone: str | None
    language: str | None
    consent_given_at: datetime | None
    opted_out_at: datetime | None
    last_inbound_at: datetime | None


@dataclass(frozen=True, slots=True)
class KnownMember:
    """What the engine reads of the sender's member row with every message."""

    id: uuid.UUID
    phone: str


@dataclass(slots=True)
class Context:
    settings: Settings
    connection: AsyncConnection
    """The message's connection, inside the transaction that logged the message."""
    redis: Redis
    message: InboundMessage
    conv: ConversationState
    now: datetime
    address: KnownAddress | ChannelAddress | None
    member: KnownMember | Member | None
    language: Language
    outbox: Outbox
    jobs: Jobs
    """The notifier's queue (publish an announcement), used after the commit."""
    after_commit: list[AfterCommit] = field(default_factory=list)
    permissions_known: tuple[uuid.UUID, frozenset[str]] | None = None
    """``(member id, permissions)`` when already read with the message."""
    _session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """An ORM session inside the message's transaction, opened on first use (most
        menu steps need none). The engine commits it with the message."""
        if self._session is None:
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def close(self) -> None:
        """Close the session (rolling back what was not committed) before the message's
        transaction ends."""
        if self._session is not None:
            await self._session.close()

    async def permissions(self) -> frozenset[str]:
        """What the member may do as an official (looked up at most once per message)."""
        if self.member is None:
            return frozenset()
        if self.permissions_known is None or self.permissions_known[0] != self.member.id:
            held = await officials.permissions_of(self.session, self.member.id)
            self.permissions_known = (self.member.id, held)
        return self.permissions_known[1]

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
