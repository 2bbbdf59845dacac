"""Seed section 5: announcements, discussions and grievances."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ARRAY, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, pg_enum, updated_at, uuid_pk


class AnnouncementScope(enum.StrEnum):
    ALL = "all"
    STATE = "state"
    DISTRICT = "district"
    CONSTITUENCY = "constituency"
    BOOTH = "booth"


class AnnouncementStatus(enum.StrEnum):
    """Beyond the seed (migration 0003): where an announcement is in its publishing."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    """Fanned out: every delivery row is written."""
    CANCELLED = "cancelled"


class GrievanceStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class GrievancePriority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class Announcement(Base):
    __tablename__ = "announcements"
    __table_args__ = (
        Index("idx_announcements_publish", text("publish_at DESC")),
        # The worker's publish sweep: scheduled announcements whose time has come.
        Index(
            "idx_announcements_scheduled",
            "publish_at",
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    title: Mapped[str] = mapped_column(String(255))
    title_ta: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    content_ta: Mapped[str | None] = mapped_column(Text)

    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    target_scope: Mapped[AnnouncementScope | None] = mapped_column(
        pg_enum(AnnouncementScope, "announcement_scope"), server_default=text("'all'")
    )

    send_push: Mapped[bool | None] = mapped_column(server_default=text("true"))
    send_sms: Mapped[bool | None] = mapped_column(server_default=text("false"))
    send_email: Mapped[bool | None] = mapped_column(server_default=text("false"))

    publish_at: Mapped[datetime | None] = created_at()
    expires_at: Mapped[datetime | None]

    image_url: Mapped[str | None] = mapped_column(Text)
    attachment_urls: Mapped[list[str] | None] = mapped_column(ARRAY(Text))

    is_pinned: Mapped[bool | None] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime | None] = created_at()

    # Beyond the seed (migration 0003, docs/schema-changes.md): the fan-out's state.
    sms_text: Mapped[str | None] = mapped_column(Text)
    """The short text SMS recipients get (default: the title)."""
    status: Mapped[AnnouncementStatus] = mapped_column(
        pg_enum(AnnouncementStatus, "announcement_status"), server_default=text("'draft'")
    )
    published_at: Mapped[datetime | None]
    fanned_out_at: Mapped[datetime | None]
    template_name: Mapped[str | None] = mapped_column(String(64))
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The composing conversation's key (migration 0005): confirming the same
    composition twice finds the first announcement instead of creating another."""


class Discussion(Base):
    __tablename__ = "discussions"

    id: Mapped[uuid.UUID] = uuid_pk()
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    is_pinned: Mapped[bool | None] = mapped_column(server_default=text("false"))
    is_locked: Mapped[bool | None] = mapped_column(server_default=text("false"))
    views_count: Mapped[int | None] = mapped_column(server_default=text("0"))
    replies_count: Mapped[int | None] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class DiscussionReply(Base):
    __tablename__ = "discussion_replies"

    id: Mapped[uuid.UUID] = uuid_pk()
    discussion_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("discussions.id", ondelete="CASCADE")
    )
    parent_reply_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("discussion_replies.id"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    content: Mapped[str] = mapped_column(Text)
    is_approved: Mapped[bool | None] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class Grievance(Base):
    __tablename__ = "grievances"
    __table_args__ = (Index("idx_grievances_status", "status", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    ticket_number: Mapped[str] = mapped_column(String(20), unique=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    category: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[GrievancePriority | None] = mapped_column(
        pg_enum(GrievancePriority, "grievance_priority"), server_default=text("'medium'")
    )
    status: Mapped[GrievanceStatus | None] = mapped_column(
        pg_enum(GrievanceStatus, "grievance_status"), server_default=text("'submitted'")
    )
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    attachments: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    resolved_at: Mapped[datetime | None]
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()
