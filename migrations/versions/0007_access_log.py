"""the access log: which official read whose personal details, what and when

FACTS.md ("log access"): each time an official reads another member's personal details
(the list of signups waiting for verification, one member's details; grievances
later), a row records who read, whose, what and when. Ids only, no personal data
(core/services/access_log.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 22:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'access_log',
        sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('official_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('member_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('what', sa.String(length=32), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['official_id'], ['members.id'], name='access_log_official_id_fkey'),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name='access_log_member_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='access_log_pkey'),
    )
    op.create_index('idx_access_log_member', 'access_log', ['member_id', 'read_at'])


def downgrade() -> None:
    op.drop_index('idx_access_log_member', table_name='access_log')
    op.drop_table('access_log')
