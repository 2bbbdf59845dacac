"""OTP abuse limits: who asked for each code, and the indexes the limits count with

``otp_verifications.requested_by``: a keyed HMAC of the chat or number that asked for
the code (never the raw address), so codes can be limited per requester as well as
per target phone (security review H2). ``created_at`` is indexed for the global daily
ceiling.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'otp_verifications', sa.Column('requested_by', sa.String(length=64), nullable=True)
    )
    op.create_index(
        'idx_otp_verifications_requester', 'otp_verifications', ['requested_by', 'created_at']
    )
    op.create_index('idx_otp_verifications_created', 'otp_verifications', ['created_at'])


def downgrade() -> None:
    op.drop_index('idx_otp_verifications_created', table_name='otp_verifications')
    op.drop_index('idx_otp_verifications_requester', table_name='otp_verifications')
    op.drop_column('otp_verifications', 'requested_by')
