"""Seed section 7: donations and finance."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, pg_enum, uuid_pk


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REFUNDED = "refunded"


class DonationCampaign(Base):
    __tablename__ = "donation_campaigns"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    target_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    collected_amount: Mapped[Decimal | None] = mapped_column(
        Numeric(12, 2), server_default=text("0")
    )
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool | None] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime | None] = created_at()


class Donation(Base):
    __tablename__ = "donations"
    __table_args__ = (
        Index("idx_donations_date", text("created_at DESC")),
        UniqueConstraint("payment_link_id", name="uq_donations_payment_link"),
        UniqueConstraint("request_key", name="uq_donations_request_key"),
        UniqueConstraint("financial_year", "receipt_serial", name="uq_donations_receipt"),
        Index(
            "uq_donations_open_link",
            "donor_phone",
            unique=True,
            postgresql_where=text("payment_status = 'pending' AND payment_link_id IS NOT NULL"),
        ),
        Index("idx_donations_donor_year", "donor_phone", "financial_year"),
        Index("idx_donations_transaction", "transaction_id"),
        Index("idx_donations_campaign", "campaign_id"),
        Index(
            "idx_donations_unnumbered",
            "financial_year",
            postgresql_where=text(
                "receipt_serial IS NULL AND payment_status IN ('completed', 'refunded')"
            ),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("donation_campaigns.id"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3), server_default=text("'INR'"))
    payment_method: Mapped[str | None] = mapped_column(String(50))
    payment_gateway: Mapped[str | None] = mapped_column(String(50))
    transaction_id: Mapped[str | None] = mapped_column(String(255))
    payment_status: Mapped[PaymentStatus | None] = mapped_column(
        pg_enum(PaymentStatus, "payment_status"), server_default=text("'pending'")
    )
    donor_name: Mapped[str | None] = mapped_column(String(255))
    donor_phone: Mapped[str | None] = mapped_column(String(15))
    donor_email: Mapped[str | None] = mapped_column(String(255))
    donor_pan: Mapped[str | None] = mapped_column(String(20))
    receipt_number: Mapped[str | None] = mapped_column(String(50))
    receipt_url: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = created_at()
    completed_at: Mapped[datetime | None]
    # Migration 0010 (issue 15): the gateway's link, the law's fields, the receipt.
    payment_link_id: Mapped[str | None] = mapped_column(String(40))
    payment_url: Mapped[str | None] = mapped_column(Text)
    link_expires_at: Mapped[datetime | None]
    request_key: Mapped[str | None] = mapped_column(String(64))
    financial_year: Mapped[str | None] = mapped_column(String(7))
    receipt_serial: Mapped[int | None] = mapped_column(Integer)
    receipt_voided_at: Mapped[datetime | None]
    donor_address: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(5))
    chat_channel: Mapped[str | None] = mapped_column(String(20))
    chat_address: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    refunded_at: Mapped[datetime | None]


class DonationReceiptCounter(Base):
    """The last receipt serial given in a financial year (gapless: taken under this
    row's lock in the paying transaction)."""

    __tablename__ = "donation_receipt_counters"

    financial_year: Mapped[str] = mapped_column(String(7), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)


class PaymentGatewayEvent(Base):
    """A gateway webhook event applied (its ``X-Razorpay-Event-Id``): a replay finds it."""

    __tablename__ = "payment_gateway_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]


class UnmatchedPayment(Base):
    """Money the gateway reported that matched no donation as it stood (an unknown
    link, an amount that differs, a partial refund): for the treasurer to review."""

    __tablename__ = "unmatched_payments"
    __table_args__ = (Index("idx_unmatched_payments_payment", "payment_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(64))
    payment_link_id: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[str | None] = mapped_column(String(40))
    refund_id: Mapped[str | None] = mapped_column(String(40))
    amount_paise: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
