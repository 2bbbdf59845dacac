"""conversation state moves from Redis into PostgreSQL, into each message's transaction

``conversation_states``: where each conversation is (flow, question, what was typed),
one row per (channel, address) under a keyed HMAC of the pair. It was a Redis key
loaded before and saved after each message's transaction, under a session advisory lock
held across both; now it is read and written inside the transaction, and the row's lock
is the conversation's lock: two statements and two Redis round trips fewer per message.
Unlogged, as the Redis keys were disposable: a crash empties it and costs re-asked
questions, never data.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'conversation_states',
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('state', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name='conversation_states_pkey'),
        prefixes=['UNLOGGED'],
    )


def downgrade() -> None:
    op.drop_table('conversation_states')
