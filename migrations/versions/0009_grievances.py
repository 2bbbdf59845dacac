"""grievances: routing, clocks, the rating, and an audit row for every change

Issue 14. ``grievances`` gains the unit whose officials own a ticket now
(``handling_unit_id``: the member's unit, or the nearest one above it with a grievance
handler, or higher after escalations), how many times it climbed (``escalations``), its
two clocks (``ack_due_at``, ``resolve_due_at``; ``clock_started_at`` for the 21-day outer
bound), when it was acknowledged, ``waiting_since`` (an official's question waits for the
member: the clocks stand still), ``breached_at`` (breached at the top of the tree, where
there is nowhere left to climb, so the sweep tells the state once, not every minute),
the member's ``rating``, ``is_appeal`` (reopened after a poor rating), ``request_key``
(the raising conversation's key: a double tap creates one ticket) and an optional
``location``. ``grievance_ticket_seq`` numbers tickets (core/services/grievances.py).

``grievance_events`` is the audit trail: created, acknowledged, asked, answered,
reassigned, escalated, resolved, rejected, rated, reopened — who (NULL: the sweep), when,
the unit and assignee after the change, and the note (question, answer, resolution,
reason).

Indexes: the sweep reads only the two partial indexes of tickets whose clock runs;
an official's queue reads ``idx_grievances_assigned``; a member's own tickets
``idx_grievances_member``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:20:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('submitted', 'acknowledged', 'in_progress')"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence('grievance_ticket_seq')))
    op.add_column('grievances', sa.Column('handling_unit_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key('grievances_handling_unit_id_fkey', 'grievances', 'organization_units', ['handling_unit_id'], ['id'])
    op.add_column('grievances', sa.Column('escalations', sa.Integer(), server_default=sa.text('0'), nullable=False))
    for name in ('ack_due_at', 'resolve_due_at', 'clock_started_at', 'acknowledged_at', 'waiting_since', 'breached_at'):
        op.add_column('grievances', sa.Column(name, TS, nullable=True))
    op.add_column('grievances', sa.Column('rating', sa.String(length=8), nullable=True))
    op.add_column('grievances', sa.Column('is_appeal', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('grievances', sa.Column('request_key', sa.String(length=64), nullable=True))
    op.create_unique_constraint('grievances_request_key_key', 'grievances', ['request_key'])
    op.add_column('grievances', sa.Column('location', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True))
    op.create_index('idx_grievances_ack_due', 'grievances', ['ack_due_at'], postgresql_where=sa.text("status = 'submitted' AND waiting_since IS NULL AND breached_at IS NULL"))
    op.create_index('idx_grievances_resolve_due', 'grievances', ['resolve_due_at'], postgresql_where=sa.text(f"{OPEN} AND waiting_since IS NULL AND breached_at IS NULL"))
    op.create_index('idx_grievances_assigned', 'grievances', ['assigned_to', 'resolve_due_at'], postgresql_where=sa.text(OPEN))
    op.create_index('idx_grievances_member', 'grievances', ['member_id', 'created_at'])
    op.create_index('idx_grievances_handling_unit', 'grievances', ['handling_unit_id'])

    op.create_table(
        'grievance_events',
        sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('grievance_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('actor_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('unit_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('assigned_to', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('at', TS, nullable=False),
        sa.ForeignKeyConstraint(['grievance_id'], ['grievances.id'], name='grievance_events_grievance_id_fkey', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['actor_id'], ['members.id'], name='grievance_events_actor_id_fkey'),
        sa.ForeignKeyConstraint(['unit_id'], ['organization_units.id'], name='grievance_events_unit_id_fkey'),
        sa.ForeignKeyConstraint(['assigned_to'], ['members.id'], name='grievance_events_assigned_to_fkey'),
        sa.PrimaryKeyConstraint('id', name='grievance_events_pkey'),
    )
    op.create_index('idx_grievance_events_grievance', 'grievance_events', ['grievance_id', 'id'])


def downgrade() -> None:
    op.drop_index('idx_grievance_events_grievance', table_name='grievance_events')
    op.drop_table('grievance_events')
    for index in ('idx_grievances_handling_unit', 'idx_grievances_member', 'idx_grievances_assigned',
                  'idx_grievances_resolve_due', 'idx_grievances_ack_due'):
        op.drop_index(index, table_name='grievances')
    op.drop_constraint('grievances_request_key_key', 'grievances', type_='unique')
    op.drop_constraint('grievances_handling_unit_id_fkey', 'grievances', type_='foreignkey')
    for name in ('location', 'request_key', 'is_appeal', 'rating', 'breached_at', 'waiting_since',
                 'acknowledged_at', 'clock_started_at', 'resolve_due_at', 'ack_due_at',
                 'escalations', 'handling_unit_id'):
        op.drop_column('grievances', name)
    op.execute(sa.schema.DropSequence(sa.Sequence('grievance_ticket_seq')))
