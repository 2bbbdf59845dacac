"""Seed section 3: members, their units and transfers."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Date,
    ForeignKey,
    Index,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, jsonb_object, pg_enum, point, updated_at, uuid_pk
from core.models.types import LtreeType

membership_number_seq = Sequence("membership_number_seq", metadata=Base.metadata)
"""Serial part of membership numbers (``VCK-CHN-0000042``); see core.services.members."""


class MemberStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPELLED = "expelled"
    RESIGNED = "resigned"


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        # Unique, not just indexed as in the seed: one membership per phone.
        Index("idx_members_phone", "phone", unique=True),
        Index("idx_members_status", "status"),
        Index("idx_members_geo", "geo_location", postgresql_using="gist"),
        Index("idx_members_voter_id", "voter_id"),
        Index("idx_members_created", text("created_at DESC")),
        Index(
            "idx_members_search",
            text(
                "to_tsvector('english'::regconfig, "
                "(COALESCE(first_name, ''::character varying)::text || ' '::text) "
                "|| COALESCE(last_name, ''::character varying)::text)"
            ),
            postgresql_using="gin",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    membership_number: Mapped[str | None] = mapped_column(String(50), unique=True)

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    first_name_ta: Mapped[str | None] = mapped_column(String(100))
    last_name_ta: Mapped[str | None] = mapped_column(String(100))
    photo_url: Mapped[str | None] = mapped_column(Text)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(20))

    phone: Mapped[str | None] = mapped_column(String(15))
    """Unique; NULL only once the member's data was erased (``erased_at``)."""
    alternate_phone: Mapped[str | None] = mapped_column(String(15))
    email: Mapped[str | None] = mapped_column(String(255))

    address_line1: Mapped[str | None] = mapped_column(String(255))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100), server_default=text("'Tamil Nadu'"))
    pincode: Mapped[str | None] = mapped_column(String(10))
    geo_location: Mapped[Any] = mapped_column(point(), nullable=True)

    voter_id: Mapped[str | None] = mapped_column(String(50))
    aadhar_hash: Mapped[str | None] = mapped_column(String(255))
    blood_group: Mapped[str | None] = mapped_column(String(5))
    education: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(100))
    skills: Mapped[list[str] | None] = mapped_column(ARRAY(Text))

    status: Mapped[MemberStatus | None] = mapped_column(
        pg_enum(MemberStatus, "member_status"), server_default=text("'pending'")
    )
    joined_at: Mapped[datetime | None] = created_at()
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))

    metadata_: Mapped[dict[str, Any] | None] = jsonb_object("metadata")
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()

    # Beyond the seed (docs/schema-changes.md): the language every message to them uses.
    language: Mapped[str] = mapped_column(String(5), server_default=text("'ta'"))
    aadhar_last4: Mapped[str | None] = mapped_column(String(4))
    erased_at: Mapped[datetime | None]
    """They withdrew consent: every personal field was emptied (core.services.privacy)."""


class MemberUnit(Base):
    __tablename__ = "member_units"
    __table_args__ = (
        # NULLS NOT DISTINCT: a plain member row (no position) must not repeat either.
        UniqueConstraint("member_id", "unit_id", "position_id", postgresql_nulls_not_distinct=True),
        Index("idx_member_units_unit", "unit_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization_units.id", ondelete="CASCADE")
    )
    position_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("positions.id"))
    is_primary: Mapped[bool | None] = mapped_column(server_default=text("false"))
    joined_at: Mapped[datetime | None] = created_at()
    left_at: Mapped[datetime | None]
    appointed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    notes: Mapped[str | None] = mapped_column(Text)


class MemberReach(Base):
    """How an active member can be reached and where they belong, one narrow row each,
    for an announcement's fan-out (core/fanout.py). Derived: triggers keep it
    (migration 0017); nothing writes it directly."""

    __tablename__ = "member_reach"
    __table_args__ = (Index("idx_member_reach_paths", "paths", postgresql_using="gist"),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(5))
    wa: Mapped[str | None] = mapped_column(String(64))
    """The first usable WhatsApp address (usable: not opted out, consent not refused)."""
    tg: Mapped[str | None] = mapped_column(String(64))
    sms: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(15))
    """The membership phone, when it may stand in for an SMS address: they have none,
    and no address of theirs said STOP or refused consent."""
    paths: Mapped[list[str]] = mapped_column(ARRAY(LtreeType()))
    """Their active units' paths."""


class MemberTransfer(Base):
    __tablename__ = "member_transfers"

    id: Mapped[uuid.UUID] = uuid_pk()
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    from_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    to_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime | None] = created_at()
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str | None] = mapped_column(String(20), server_default=text("'pending'"))
