"""Seed section 5: announcements, discussions and grievances."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, ForeignKey, Identity, Index, Sequence, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, pg_enum, point, updated_at, uuid_pk


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


OPEN_STATUSES = ("submitted", "acknowledged", "in_progress")
OPEN_SQL = "status IN ('submitted', 'acknowledged', 'in_progress')"
"""A ticket someone still has to act on."""

grievance_ticket_seq = Sequence("grievance_ticket_seq", metadata=Base.metadata)


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
    __table_args__ = (
        Index("idx_grievances_status", "status", "created_at"),
        # Beyond the seed (migration 0009): the sweep's two clocks, each an index of the
        # tickets it may find breached; an official's queue; a member's own tickets.
        Index(
            "idx_grievances_ack_due",
            "ack_due_at",
            postgresql_where=text(
                "status = 'submitted' AND waiting_since IS NULL AND breached_at IS NULL"
            ),
        ),
        Index(
            "idx_grievances_resolve_due",
            "resolve_due_at",
            postgresql_where=text(f"{OPEN_SQL} AND waiting_since IS NULL AND breached_at IS NULL"),
        ),
        Index(
            "idx_grievances_assigned",
            "assigned_to",
            "resolve_due_at",
            postgresql_where=text(OPEN_SQL),
        ),
        Index("idx_grievances_member", "member_id", "created_at"),
        Index("idx_grievances_handling_unit", "handling_unit_id"),
    )

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
    # Beyond the seed (migration 0009): routing, clocks and the member's rating.
    handling_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    """The unit whose officials own the ticket now (the member's, or one above it)."""
    escalations: Mapped[int] = mapped_column(server_default=text("0"))
    ack_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    clock_started_at: Mapped[datetime | None]
    """Raised or reopened: the outer bound counts from here."""
    acknowledged_at: Mapped[datetime | None]
    waiting_since: Mapped[datetime | None]
    """Set while an official's question waits for the member: the clocks stand still."""
    breached_at: Mapped[datetime | None]
    """A breach at the top of the tree, where there is no level left to escalate to."""
    rating: Mapped[str | None] = mapped_column(String(8))
    is_appeal: Mapped[bool] = mapped_column(server_default=text("false"))
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    location: Mapped[Any] = mapped_column(point(), nullable=True)


class GrievanceEvent(Base):
    """Beyond the seed (migration 0009): every change of a ticket, who made it and when
    (``actor_id`` NULL: the sweep). ``note`` holds an official's question, the member's
    answer, a resolution note or a reason, which are part of the ticket."""

    __tablename__ = "grievance_events"
    __table_args__ = (Index("idx_grievance_events_grievance", "grievance_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    grievance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    """The handling unit after the change."""
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
