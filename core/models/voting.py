"""Seed section 8: internal party elections.

``election_votes`` and ``election_voters`` share no key: who voted and what was voted
cannot be joined (FACTS.md). A ballot carries no time; it waits in
``election_ballot_pool`` and reaches the board (``election_votes``, hash-chained) in a
shuffled batch (core/services/elections.py, migration 0011)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
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
    __table_args__ = (Index("idx_elections_status", "status"),)

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
    eligible_count: Mapped[int | None]
    """How many members may vote: published once the roll is frozen."""
    eligibility_frozen_at: Mapped[datetime | None]
    ballots_count: Mapped[int] = mapped_column(server_default=text("0"))
    """Rows on the board (ballots still in the pool are not counted here)."""
    board_head: Mapped[str | None] = mapped_column(String(64))
    """The chain hash of the board's last row."""
    declared_at: Mapped[datetime | None]


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
    """A row of the public bulletin board: the SHA-256 of a receipt code, the choice,
    its place and its chain hash. No time: ``voted_at`` is never written."""

    __tablename__ = "election_votes"
    __table_args__ = (
        UniqueConstraint("election_id", "seq"),
        Index("idx_election_votes_receipt", "vote_hash", unique=True),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    election_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE")
    )
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("election_candidates.id", ondelete="CASCADE")
    )
    vote_hash: Mapped[str] = mapped_column(String(255))
    voted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seq: Mapped[int | None] = mapped_column(Integer)
    chain_hash: Mapped[str | None] = mapped_column(String(64))


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
    voted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The day only (core/services/elections.py)."""


class ElectionEligible(Base):
    """The electoral roll, frozen at the cutoff."""

    __tablename__ = "election_eligible"
    __table_args__ = (Index("idx_election_eligible_member", "member_id"),)

    election_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)


class ElectionBallotPool(Base):
    """Ballots cast but not yet on the board: no time, a random id; moved to the board
    in shuffled batches."""

    __tablename__ = "election_ballot_pool"
    __table_args__ = (Index("idx_election_ballot_pool_election", "election_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    election_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("election_candidates.id", ondelete="CASCADE")
    )
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
