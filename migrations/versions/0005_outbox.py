"""the transactional outbox, and idempotent announcement confirmations

``outbox``: what a conversation step must do after its commit (send a code, tell an
official, schedule a publish) is written here in the step's own transaction and
delivered from here, so a crash or a Redis outage between the commit and the send loses
nothing (core/effects.py).

``announcements.request_key``: the key of the conversation that composed an
announcement; a second confirmation of the same composition finds the first
announcement instead of creating another.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.String(length=64), nullable=True),
        sa.Column(
            'created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True
        ),
        sa.PrimaryKeyConstraint('id', name='outbox_pkey'),
    )
    op.create_index('idx_outbox_available', 'outbox', ['available_at'])
    op.add_column('announcements', sa.Column('request_key', sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        'announcements_request_key_key', 'announcements', ['request_key']
    )


def downgrade() -> None:
    op.drop_constraint('announcements_request_key_key', 'announcements', type_='unique')
    op.drop_column('announcements', 'request_key')
    op.drop_index('idx_outbox_available', table_name='outbox')
    op.drop_table('outbox')
