"""erasure of a member's personal data when they withdraw consent (DPDP)

An erased member keeps their row (its id is referred to by verifications, appointments,
announcements and, later, donations and votes) with every personal field emptied:
``phone`` may now be NULL, and ``erased_at`` says when. See core/services/privacy.py.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column('members', 'phone', existing_type=sa.String(length=15), nullable=True)
    op.add_column('members', sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # An erased member has no phone left to restore; a placeholder keeps NOT NULL.
    op.execute(
        "UPDATE members SET phone = 'erased' || substr(replace(id::text, '-', ''), 1, 9)"
        " WHERE phone IS NULL"
    )
    op.drop_column('members', 'erased_at')
    op.alter_column('members', 'phone', existing_type=sa.String(length=15), nullable=False)
