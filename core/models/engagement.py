"""Seed section 6: engagement and gamification."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, jsonb_object, uuid_pk


class MemberActivity(Base):
    __tablename__ = "member_activities"
    __table_args__ = (
        Index("idx_member_activities_member", "member_id"),
        Index("idx_member_activities_type", "activity_type"),
        # Migration 0008: an RSVP or an attendance earns its points once.
        UniqueConstraint(
            "member_id", "activity_type", "activity_id", name="uq_member_activities_once"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    activity_type: Mapped[str] = mapped_column(String(50))
    activity_id: Mapped[uuid.UUID | None]
    points: Mapped[int | None] = mapped_column(server_default=text("0"))
    metadata_: Mapped[dict[str, Any] | None] = jsonb_object("metadata")
    created_at: Mapped[datetime | None] = created_at()


class EngagementScore(Base):
    __tablename__ = "engagement_scores"

    id: Mapped[uuid.UUID] = uuid_pk()
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[int | None] = mapped_column(server_default=text("0"))
    components: Mapped[dict[str, Any] | None] = jsonb_object()
    churn_probability: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    last_activity_at: Mapped[datetime | None]
    calculated_at: Mapped[datetime | None] = created_at()


class Badge(Base):
    __tablename__ = "badges"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    name_ta: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    description_ta: Mapped[str | None] = mapped_column(Text)
    icon_url: Mapped[str | None] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB)
    points: Mapped[int | None] = mapped_column(server_default=text("0"))
    is_active: Mapped[bool | None] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime | None] = created_at()


class MemberBadge(Base):
    __tablename__ = "member_badges"
    __table_args__ = (UniqueConstraint("member_id", "badge_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    badge_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("badges.id", ondelete="CASCADE"))
    earned_at: Mapped[datetime | None] = created_at()
