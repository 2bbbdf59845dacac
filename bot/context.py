"""What a flow step gets: the message, who wrote it, the message's database transaction,
and the effects (core/effects.py) it wrote to run once that transaction has committed."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.state import ConversationState
from core import effects
from core.channels.base import InboundMessage
from core.config import Settings
from core.i18n import Language
from core.models import ChannelAddress, Member
from core.payments import RazorpayClient
from core.services import officials


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
    pg: Any
    """The same connection's driver (asyncpg) connection, for the few reads the menu
    makes on every display: one round trip each, no ORM session or savepoint."""
    redis: Redis
    message: InboundMessage
    conv: ConversationState
    now: datetime
    address: KnownAddress | ChannelAddress | None
    member: KnownMember | Member | None
    language: Language
    effect_ids: list[int] = field(default_factory=list)
    """The outbox rows this step wrote, delivered after the commit."""
    log_as: str | None = None
    """Set when the step erased the sender's address: the reply is logged under this
    (a keyed HMAC), without its text."""
    gateway: RazorpayClient | None = None
    """The payment gateway (core/payments.py), for flows that make payment links."""
    permissions_known: tuple[uuid.UUID, frozenset[str]] | None = None
    """``(member id, permissions)`` when already read with the message."""
    conv_saved_at: datetime | None = None
    """When the conversation's state was last saved: when its last reply was made."""
    grievance_waiting: bool = False
    """Read with the message: an official's question or a rating waits for the member's
    next message (bot/flows/grievance.py)."""
    _session: AsyncSession | None = None
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> AsyncSession:
        """An ORM session inside the message's transaction, opened on first use (most
        menu steps need none). The engine commits it with the message."""
        if self._session is None:
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    async def commit(self) -> None:
        if self._session is not None:
            # Effects a core service wrote for someone else (core.effects.record_soon):
            # delivered at once after the commit, like the step's own.
            self.effect_ids.extend(effects.written_soon(self._session))
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
    def member_id(self) -> uuid.UUID:
        """The member's id, in flows declared ``requires=MEMBER`` (or a permission): the
        engine runs them only for members."""
        if self.member is None:
            raise LookupError("a members-only flow ran for someone who is not a member")
        return self.member.id

    async def once(self, key: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """``read()``'s result, read at most once per message: the menu checks there is
        something to verify or report, and the flow it opens lists the same rows."""
        if key not in self._memo:
            self._memo[key] = await read()
        return self._memo[key]

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

    async def effect(self, kind: effects.Kind, payload: dict) -> None:
        """Do this once the transaction has committed (sends never precede the commit).
        It is written in the transaction (a transactional outbox), so a crash after the
        commit delays it, never loses it."""
        self.effect_ids.append(await effects.record(self.session, kind, payload, now=self.now))
