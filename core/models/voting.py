"""Seed section 8: internal party elections.

``election_votes`` and ``election_voters`` share no key: who voted and what was voted
cannot be joined (FACTS.md)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, jsonb_object, pg_enum, uuid_pk


class ElectionStatus(enum.StrEnum):
    DRAFT = "draft"
    NOMINATIONS_OPEN = "nominations_open"
    VOTING_OPEN = "voting_open"
    CLOSED = "closed"
    RESULTS_DECLARED = "results_declared"


class Election(Base):
    __tablename__ = "elections"

    id: Mapped[uuid.UUID] = uuid_pk()
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    position_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("positions.id"))
    nominations_start: Mapped[datetime | None]
    nominations_end: Mapped[datetime | None]
    voting_start: Mapped[datetime]
    voting_end: Mapped[datetime]
    eligible_voter_criteria: Mapped[dict[str, Any] | None] = jsonb_object()
    status: Mapped[ElectionStatus | None] = mapped_column(
        pg_enum(ElectionStatus, "election_status"), server_default=text("'draft'")
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime | None] = created_at()


class ElectionCandidate(Base):
    __tablename__ = "election_candidates"
    __table_args__ = (UniqueConstraint("election_id", "member_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    election_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    manifesto: Mapped[str | None] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(Text)
    nominated_at: Mapped[datetime | None] = created_at()
    approved: Mapped[bool | None] = mapped_column(server_default=text("false"))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    votes_count: Mapped[int | None] = mapped_column(server_default=text("0"))


class ElectionVote(Base):
    __tablename__ = "election_votes"

    id: Mapped[uuid.UUID] = uuid_pk()
    election_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE")
    )
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("election_candidates.id", ondelete="CASCADE")
    )
    vote_hash: Mapped[str] = mapped_column(String(255))
    voted_at: Mapped[datetime | None] = created_at()


class ElectionVoter(Base):
    __tablename__ = "election_voters"
    __table_args__ = (UniqueConstraint("election_id", "member_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    election_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    voted_at: Mapped[datetime | None] = created_at()
