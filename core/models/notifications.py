"""Beyond the seed: announcement fan-out — one delivery row per announcement and member,
the approved message templates, and the columns an announcement needs to be sent.

``announcement_deliveries`` has no foreign keys on purpose: a state-wide announcement
writes a million rows in one INSERT … SELECT, and PostgreSQL checks a foreign key with
a trigger per row (measured: 17 s instead of 4 s for 1M rows). The statement that writes
the rows selects existing members for an existing announcement, and deleting an
announcement deletes its deliveries in :func:`core.announcements.delete`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, pg_enum, updated_at, uuid_pk
from core.models.communications import Announcement, AnnouncementStatus


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    """Written by the fan-out (or put back after a retryable error): waiting to be sent."""
    SENDING = "sending"
    """Claimed by a worker and handed to the provider; the outcome is not recorded yet."""
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not sent on purpose: the announcement expired, or the member opted out meanwhile."""
    DEFERRED = "deferred"
    """Waiting for WhatsApp capacity (the account's daily unique-recipient limit)."""
    UNCERTAIN = "uncertain"
    """Found in ``sending`` after its worker died (or lost its lease, Redis, PostgreSQL,
    or its job timed out): the message may or may not have reached the provider, and
    the provider could not say (Telegram never can). Not sent again; counted in the
    reports. See ``reconciliation`` and docs/notifier.md."""


class TemplateCategory(enum.StrEnum):
    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"


delivery_status_enum = pg_enum(DeliveryStatus, "delivery_status")


class AnnouncementDelivery(Base):
    __tablename__ = "announcement_deliveries"
    __table_args__ = (
        # The unique key (announcement, member) is the primary key: a member gets one row.
        PrimaryKeyConstraint("announcement_id", "member_id", name="announcement_deliveries_pkey"),
        # Claiming a batch and finding unfinished work; rows leave it once they are done.
        Index(
            "idx_deliveries_pending",
            "announcement_id",
            "batch",
            postgresql_where=text("status IN ('queued', 'sending', 'deferred')"),
        ),
        # Status callbacks find their row by the provider's message id.
        Index(
            "idx_deliveries_provider_message",
            "provider",
            "provider_message_id",
            postgresql_where=text("provider_message_id IS NOT NULL"),
        ),
        # WhatsApp's rolling 24-hour count of business-initiated recipients.
        Index(
            "idx_deliveries_whatsapp_tier",
            "whatsapp_tier_at",
            postgresql_where=text("whatsapp_tier_at IS NOT NULL"),
        ),
    )

    announcement_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    batch: Mapped[int | None]
    """Which send job carries this row (fanout_batch_size rows per batch)."""
    channel: Mapped[str] = mapped_column(String(20))
    """whatsapp, telegram or sms."""
    provider: Mapped[str] = mapped_column(String(20))
    """twilio, telegram or dlt."""
    address: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    via_template: Mapped[bool] = mapped_column(server_default=text("false"))
    """WhatsApp outside the 24-hour window: the approved template, not free text."""
    route_reason: Mapped[str | None] = mapped_column(String(32))
    """Why this channel rather than the member's first: whatsapp_tier, whatsapp_unreachable."""
    status: Mapped[DeliveryStatus] = mapped_column(
        delivery_status_enum, server_default=text("'queued'")
    )
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    sms_parts: Mapped[int | None] = mapped_column(SmallInteger)
    not_before: Mapped[datetime | None]
    """A retry waits until then (backoff, Retry-After)."""
    whatsapp_tier_at: Mapped[datetime | None]
    """When this row took one of the WhatsApp tier's daily unique-recipient slots."""
    queued_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    sending_at: Mapped[datetime | None]
    """When the current attempt was claimed: the attempt's stamp. Only the claimer of
    that attempt records its outcome (notifier/sending.py)."""
    reconciliation: Mapped[str | None] = mapped_column(String(16))
    """How a send left in doubt by a dead worker was settled: found, resent, unknown,
    reported (migration 0012). NULL when it never was in doubt."""
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class MessageTemplate(Base):
    """An approved template: WhatsApp's (ContentSid and its variables) and India's DLT
    (entity id, template id, header), in one language."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    category: Mapped[TemplateCategory] = mapped_column(
        pg_enum(TemplateCategory, "template_category")
    )
    whatsapp_content_sid: Mapped[str | None] = mapped_column(String(64))
    whatsapp_variables: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    """Twilio ContentVariables slot → announcement field, e.g. {"1": "title", "2": "content"}."""
    whatsapp_body: Mapped[str | None] = mapped_column(Text)
    """The approved WhatsApp text with {{1}} slots, for previews."""
    dlt_entity_id: Mapped[str | None] = mapped_column(String(30))
    dlt_template_id: Mapped[str | None] = mapped_column(String(30))
    dlt_header: Mapped[str | None] = mapped_column(String(11))
    body: Mapped[str] = mapped_column(Text)
    """The DLT-approved SMS text; each {#var#} slot takes at most 30 characters."""
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


announcements_table = Announcement.__table__
"""For typed access in SQL: ``announcements_table.c.sms_text``."""

__all__ = [
    "AnnouncementDelivery",
    "AnnouncementStatus",
    "DeliveryStatus",
    "MessageTemplate",
    "TemplateCategory",
    "announcements_table",
]
