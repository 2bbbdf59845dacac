"""Beyond the seed: the addresses members write from, and the message log.

A channel address is one (channel, address) pair: a WhatsApp or SMS number, a Telegram
chat. It carries what must be known before — or without — a membership: the language
chosen, DPDP consent or its refusal, STOP, and when the member last wrote (WhatsApp's
24-hour window)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, updated_at, uuid_pk


class ChannelAddress(Base):
    __tablename__ = "channel_addresses"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        Index("idx_channel_addresses_member", "member_id"),
        Index("idx_channel_addresses_phone", "phone"),
        # The WhatsApp addresses inside the 24-hour window, for the fan-out (core/fanout.py).
        Index(
            "idx_channel_addresses_whatsapp_inbound",
            "last_inbound_at",
            postgresql_where=text("channel = 'whatsapp'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(15))
    """E.164; for Telegram only once the user proved it with an OTP."""
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    language: Mapped[str | None] = mapped_column(String(5))
    consent_given_at: Mapped[datetime | None]
    consent_refused_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]
    """STOP: no broadcast goes to this address while set."""
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class Message(Base):
    """Every message in or out of a conversation, for audit and status callbacks.
    Bodies of inbound messages are not kept (party membership is sensitive data)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("idx_messages_address", "channel", "address", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    direction: Mapped[str] = mapped_column(String(3))  # 'in' | 'out'
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class MessageStatusEvent(Base):
    """A provider's status callback, stored as received."""

    __tablename__ = "message_status_events"
    __table_args__ = (
        Index("idx_message_status_events_message", "provider", "provider_message_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    received_at: Mapped[datetime | None] = created_at()


class OutboxEffect(Base):
    """What a conversation step must do after its commit (send a code, tell an official,
    schedule a publish), written in the step's own transaction and deleted once done
    (core/effects.py): a crash or a Redis outage between commit and send loses nothing."""

    __tablename__ = "outbox"
    __table_args__ = (Index("idx_outbox_available", "available_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    available_at: Mapped[datetime]
    """When the worker's sweep may take it: a little after the commit, so the process
    that wrote it delivers it first; after a failed try, when to try again."""
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = created_at()


class AccessLogEntry(Base):
    """An official read another member's personal details (FACTS.md: "log access"):
    who, whose, what and when — ids only (core/services/access_log.py)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("idx_access_log_member", "member_id", "read_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    official_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    what: Mapped[str] = mapped_column(String(32))
    read_at: Mapped[datetime]
