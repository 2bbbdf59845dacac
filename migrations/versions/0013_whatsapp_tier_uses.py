"""the WhatsApp tier counts every business-initiated message, not only announcements

``whatsapp_tier_uses``: one row per one-to-one WhatsApp message that went to a member
outside the 24-hour window (an OTP code, a notice, a reminder): it takes a slot of the
account's daily unique-recipient tier, as an announcement's template does, and
core/whatsapp_tier.py counts both (announcements keep marking their own rows,
``announcement_deliveries.whatsapp_tier_at``, in the fan-out's one set-based write).
No number is kept: the member's id, else a keyed HMAC of the address; no foreign key,
like the delivery rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'whatsapp_tier_uses',
        sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('member_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('address_key', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='whatsapp_tier_uses_pkey'),
    )
    op.create_index('idx_whatsapp_tier_uses_at', 'whatsapp_tier_uses', ['at'])


def downgrade() -> None:
    op.drop_index('idx_whatsapp_tier_uses_at', table_name='whatsapp_tier_uses')
    op.drop_table('whatsapp_tier_uses')
