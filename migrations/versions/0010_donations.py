"""donations: payment links, webhook events applied once, gapless receipts per year

Issue 15 (FACTS.md "Donations"). The seed's ``donations`` row gains what the gateway,
the law and the receipt need:

- ``payment_link_id`` (unique), ``payment_url``, ``link_expires_at``: the Razorpay
  payment link a donor pays through (its https ``short_url``); the webhook finds the
  donation by the link's id;
- ``request_key`` (unique): the chat that asked for the link; a double tap finds the
  first donation instead of making a second;
- a partial unique index on ``donor_phone`` while a link is unpaid: one open link per
  phone (a second "donate" returns the same link);
- ``financial_year`` (``2026-27``, April-March in India's time), ``receipt_serial``
  unique per year with ``receipt_number`` (``VCK/2026-27/000123``) and
  ``receipt_voided_at`` (a partial index finds paid gifts still without a number):
  receipt numbers are gapless per year (allocated from
  ``donation_receipt_counters`` in the paying transaction) and never reused (a refund
  voids the receipt and keeps its number);
- ``donor_address`` (Form 24A asks for it above Rs 20,000), ``declared_at`` (the donor
  declared the money is their own and Indian), ``language``, ``chat_channel`` and
  ``chat_address`` (where the thanks go), ``recorded_by`` (the official who took a cash
  gift), ``refunded_at``.

New tables: ``payment_gateway_events`` (each webhook event id once: a replay changes
nothing), ``unmatched_payments`` (a paid event for a link we do not know, a partial
refund, an amount that does not match: kept for the treasurer, never a crash; ids and
amounts only, no personal data), ``donation_receipt_counters`` (the last receipt serial
of each financial year; its row lock makes numbering gapless).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    sa.Column("payment_link_id", sa.String(length=40), nullable=True),
    sa.Column("payment_url", sa.Text(), nullable=True),
    sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("request_key", sa.String(length=64), nullable=True),
    sa.Column("financial_year", sa.String(length=7), nullable=True),
    sa.Column("receipt_serial", sa.Integer(), nullable=True),
    sa.Column("receipt_voided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("donor_address", sa.Text(), nullable=True),
    sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("language", sa.String(length=5), nullable=True),
    sa.Column("chat_channel", sa.String(length=20), nullable=True),
    sa.Column("chat_address", sa.String(length=64), nullable=True),
    sa.Column("recorded_by", postgresql.UUID(as_uuid=True), nullable=True),
    sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
)


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("donations", column)
    op.create_foreign_key(
        "donations_recorded_by_fkey", "donations", "members", ["recorded_by"], ["id"]
    )
    op.create_unique_constraint("uq_donations_payment_link", "donations", ["payment_link_id"])
    op.create_unique_constraint("uq_donations_request_key", "donations", ["request_key"])
    op.create_unique_constraint(
        "uq_donations_receipt", "donations", ["financial_year", "receipt_serial"]
    )
    op.create_index(
        "uq_donations_open_link",
        "donations",
        ["donor_phone"],
        unique=True,
        postgresql_where=sa.text("payment_status = 'pending' AND payment_link_id IS NOT NULL"),
    )
    op.create_index("idx_donations_donor_year", "donations", ["donor_phone", "financial_year"])
    op.create_index("idx_donations_transaction", "donations", ["transaction_id"])
    op.create_index("idx_donations_campaign", "donations", ["campaign_id"])
    op.create_index(
        "idx_donations_unnumbered",
        "donations",
        ["financial_year"],
        postgresql_where=sa.text(
            "receipt_serial IS NULL AND payment_status IN ('completed', 'refunded')"
        ),
    )
    op.create_table(
        "donation_receipt_counters",
        sa.Column("financial_year", sa.String(length=7), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("financial_year", name="donation_receipt_counters_pkey"),
    )
    op.create_table(
        "payment_gateway_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="payment_gateway_events_pkey"),
    )
    op.create_table(
        "unmatched_payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("payment_link_id", sa.String(length=40), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("amount_paise", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="unmatched_payments_pkey"),
    )
    op.create_index("idx_unmatched_payments_payment", "unmatched_payments", ["payment_id"])


def downgrade() -> None:
    op.drop_index("idx_unmatched_payments_payment", table_name="unmatched_payments")
    op.drop_table("unmatched_payments")
    op.drop_table("payment_gateway_events")
    op.drop_table("donation_receipt_counters")
    op.drop_index("idx_donations_unnumbered", table_name="donations")
    op.drop_index("idx_donations_campaign", table_name="donations")
    op.drop_index("idx_donations_transaction", table_name="donations")
    op.drop_index("idx_donations_donor_year", table_name="donations")
    op.drop_index("uq_donations_open_link", table_name="donations")
    op.drop_constraint("uq_donations_receipt", "donations", type_="unique")
    op.drop_constraint("uq_donations_request_key", "donations", type_="unique")
    op.drop_constraint("uq_donations_payment_link", "donations", type_="unique")
    op.drop_constraint("donations_recorded_by_fkey", "donations", type_="foreignkey")
    for column in reversed(_COLUMNS):
        op.drop_column("donations", column.name)
