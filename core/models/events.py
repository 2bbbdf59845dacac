"""Seed section 4: events, attendance and campaigns."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, jsonb_object, pg_enum, point, updated_at, uuid_pk


class EventType(enum.StrEnum):
    RALLY = "rally"
    MEETING = "meeting"
    PROTEST = "protest"
    CAMPAIGN = "campaign"
    TRAINING = "training"
    CELEBRATION = "celebration"
    OTHER = "other"


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ONGOING = "ongoing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class AttendanceStatus(enum.StrEnum):
    REGISTERED = "registered"
    CONFIRMED = "confirmed"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    WAITLISTED = "waitlisted"
    """Said yes when the event was full: waits in arrival order (migration 0008)."""


class CampaignStatus(enum.StrEnum):
    PLANNING = "planning"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("idx_events_start", "start_time"),
        Index("idx_events_unit", "unit_id"),
        # An invitation answered with a bare "1" (core/services/invitations.py): 0016.
        Index(
            "idx_events_invitations",
            "end_time",
            postgresql_where=text("announcement_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    title: Mapped[str] = mapped_column(String(255))
    title_ta: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    description_ta: Mapped[str | None] = mapped_column(Text)
    type: Mapped[EventType] = mapped_column(pg_enum(EventType, "event_type"))

    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))

    start_time: Mapped[datetime]
    end_time: Mapped[datetime | None]

    venue_name: Mapped[str | None] = mapped_column(String(255))
    venue_address: Mapped[str | None] = mapped_column(Text)
    geo_location: Mapped[Any] = mapped_column(point(), nullable=True)
    geo_fence_radius: Mapped[int | None] = mapped_column(server_default=text("100"))

    max_attendees: Mapped[int | None]
    registration_required: Mapped[bool | None] = mapped_column(server_default=text("false"))
    registration_deadline: Mapped[datetime | None]

    banner_url: Mapped[str | None] = mapped_column(Text)
    media_urls: Mapped[list[str] | None] = mapped_column(ARRAY(Text))

    status: Mapped[EventStatus | None] = mapped_column(
        pg_enum(EventStatus, "event_status"), server_default=text("'draft'")
    )

    metadata_: Mapped[dict[str, Any] | None] = jsonb_object("metadata")
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()

    # Migration 0008 (docs/schema-changes.md).
    venue_code_required: Mapped[bool] = mapped_column(server_default=text("false"))
    walk_ins: Mapped[bool] = mapped_column(server_default=text("false"))
    capacity_notified: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    announcement_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="SET NULL")
    )
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class EventAttendee(Base):
    __tablename__ = "event_attendees"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id"),
        Index("idx_event_attendees_event_status", "event_id", "status", "registered_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    status: Mapped[AttendanceStatus | None] = mapped_column(
        pg_enum(AttendanceStatus, "attendance_status"), server_default=text("'registered'")
    )
    registered_at: Mapped[datetime | None] = created_at()
    check_in_time: Mapped[datetime | None]
    check_in_location: Mapped[Any] = mapped_column(point(), nullable=True)
    check_out_time: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)

    # Migration 0008 (docs/schema-changes.md).
    offered_until: Mapped[datetime | None]
    reminded_minutes: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=text("'{}'"))
    check_in_method: Mapped[str | None] = mapped_column(String(16))
    checked_in_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    name_ta: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    description_ta: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    goals: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[CampaignStatus | None] = mapped_column(
        pg_enum(CampaignStatus, "campaign_status"), server_default=text("'planning'")
    )
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class CampaignTask(Base):
    __tablename__ = "campaign_tasks"

    id: Mapped[uuid.UUID] = uuid_pk()
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    due_date: Mapped[datetime | None]
    priority: Mapped[int | None] = mapped_column(server_default=text("5"))
    status: Mapped[str | None] = mapped_column(String(20), server_default=text("'pending'"))
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime | None] = created_at()
