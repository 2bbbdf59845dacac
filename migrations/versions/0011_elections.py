"""elections: frozen eligibility, a holding pool for ballots, a hash-chained board

Issue 16 (FACTS.md "Voting"). Who voted (``election_voters``) and what was voted
(``election_votes``) share no key, and nothing else may link them:

- ``election_votes.voted_at`` loses its default and is never written (a ballot carries
  no time); ``election_voters.voted_at`` loses its default and is written as the day
  only.
- ``election_ballot_pool``: a ballot is first held here (no time, a random id) and
  moved to the board in shuffled batches, so the board's order, ids and positions do
  not follow the order in which members voted.
- ``election_votes.seq`` and ``chain_hash``: the public bulletin board, each row
  chained to the one before by SHA-256; ``vote_hash`` is the SHA-256 of the voter's
  receipt code (unique, for "is my ballot counted?").
- ``election_eligible``: the electoral roll, frozen at the cutoff (active members of
  the unit's subtree when nominations, or else voting, open); ``elections`` gains the
  published count, when it was frozen, the board's length and head, and when results
  were declared.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("elections", sa.Column("eligible_count", sa.Integer(), nullable=True))
    op.add_column(
        "elections", sa.Column("eligibility_frozen_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "elections",
        sa.Column("ballots_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("elections", sa.Column("board_head", sa.String(length=64), nullable=True))
    op.add_column("elections", sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("idx_elections_status", "elections", ["status"])

    op.alter_column("election_votes", "voted_at", server_default=None)
    op.alter_column("election_voters", "voted_at", server_default=None)
    op.add_column("election_votes", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("election_votes", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        "election_votes_election_id_seq_key", "election_votes", ["election_id", "seq"]
    )
    op.create_index("idx_election_votes_receipt", "election_votes", ["vote_hash"], unique=True)

    op.create_table(
        "election_eligible",
        sa.Column("election_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("member_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"],
            ["elections.id"],
            name="election_eligible_election_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="election_eligible_member_id_fkey"
        ),
        sa.PrimaryKeyConstraint("election_id", "member_id", name="election_eligible_pkey"),
    )
    op.create_index("idx_election_eligible_member", "election_eligible", ["member_id"])
    op.create_table(
        "election_ballot_pool",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("election_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("candidate_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"],
            ["elections.id"],
            name="election_ballot_pool_election_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["election_candidates.id"],
            name="election_ballot_pool_candidate_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="election_ballot_pool_pkey"),
        sa.UniqueConstraint("receipt_hash", name="election_ballot_pool_receipt_hash_key"),
    )
    op.create_index("idx_election_ballot_pool_election", "election_ballot_pool", ["election_id"])


def downgrade() -> None:
    op.drop_index("idx_election_ballot_pool_election", table_name="election_ballot_pool")
    op.drop_table("election_ballot_pool")
    op.drop_index("idx_election_eligible_member", table_name="election_eligible")
    op.drop_table("election_eligible")
    op.drop_index("idx_election_votes_receipt", table_name="election_votes")
    op.drop_constraint("election_votes_election_id_seq_key", "election_votes", type_="unique")
    op.drop_column("election_votes", "chain_hash")
    op.drop_column("election_votes", "seq")
    op.alter_column("election_voters", "voted_at", server_default=sa.text("now()"))
    op.alter_column("election_votes", "voted_at", server_default=sa.text("now()"))
    op.drop_index("idx_elections_status", table_name="elections")
    op.drop_column("elections", "declared_at")
    op.drop_column("elections", "board_head")
    op.drop_column("elections", "ballots_count")
    op.drop_column("elections", "eligibility_frozen_at")
    op.drop_column("elections", "eligible_count")
