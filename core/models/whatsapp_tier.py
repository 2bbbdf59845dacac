"""A business-initiated WhatsApp message outside the 24-hour window that is not an
announcement's delivery row (core/whatsapp_tier.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Identity, Index, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class WhatsAppTierUse(Base):
    """One recipient reached outside the window by a one-to-one message (an OTP code, a
    notice, a reminder): it takes a slot of the account's daily unique-recipient tier
    as an announcement's template does. No number is kept: the member's id, else a keyed
    HMAC of the address. No foreign key: like the delivery rows, a use outlives an
    erasure under the emptied id, which identifies no one."""

    __tablename__ = "whatsapp_tier_uses"
    __table_args__ = (Index("idx_whatsapp_tier_uses_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    address_key: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
