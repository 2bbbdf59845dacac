"""Seed section 1: authentication and users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, updated_at, uuid_pk


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    phone: Mapped[str | None] = mapped_column(String(15), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool | None] = mapped_column(server_default=text("true"))
    is_verified: Mapped[bool | None] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class OtpVerification(Base):
    """One OTP sent to a phone. The code itself is never stored: only its keyed HMAC
    (see docs/schema-changes.md)."""

    __tablename__ = "otp_verifications"
    __table_args__ = (
        Index("idx_otp_verifications_requester", "requested_by", "created_at"),
        Index("idx_otp_verifications_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    phone: Mapped[str] = mapped_column(String(15), index=True)
    otp_hmac: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(50))
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    attempts: Mapped[int | None] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime | None] = created_at()
    requested_by: Mapped[str | None] = mapped_column(String(64))
    """Keyed HMAC of the chat or number that asked for it (migration 0006)."""


class SocialConnection(Base):
    __tablename__ = "social_connections"
    __table_args__ = (UniqueConstraint("provider", "provider_user_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(50))
    provider_user_id: Mapped[str] = mapped_column(String(255))
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = created_at()


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(255))
    device_info: Mapped[dict[str, Any] | None]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime | None] = created_at()
