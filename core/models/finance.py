"""Seed section 7: donations and finance."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String, Text, text
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
    __table_args__ = (Index("idx_donations_date", text("created_at DESC")),)

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
