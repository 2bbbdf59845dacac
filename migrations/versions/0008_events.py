"""events: RSVP with a waitlist, reminders once each, check-in, activity points once

- ``attendance_status`` gains ``waitlisted``: a yes beyond the capacity waits, in
  arrival order (``registered_at``, set from ``clock_timestamp()`` under the event's
  row lock), and is promoted first come, first served.
- ``event_attendees.offered_until``: a freed place is held for the first waiting member
  until then; past it, the place passes to the next (the worker's cron).
- ``event_attendees.reminded_minutes``: the reminder offsets already sent, so each
  reminder goes once however often the cron runs or crashes.
- ``event_attendees.check_in_method``, ``checked_in_by``: how presence was proved
  (location, venue code, a booth agent) and by which agent.
- ``events.venue_code_required``, ``walk_ins``: WhatsApp pins can be dropped anywhere,
  so an event may require the rotating venue code; whether members who did not RSVP
  may check in.
- ``events.capacity_notified``: the highest capacity notice (80, 100 %) sent to the
  officials, so each goes once.
- ``events.announcement_id``: the invitation, sent through the announcement fan-out.
- ``events.request_key`` (unique): the composing conversation's key, so a double tap
  on "Publish" makes one event.
- index ``(event_id, status, registered_at)`` on ``event_attendees``: counting places
  and finding the first waiting member under the lock.
- unique ``(member_id, activity_type, activity_id)`` on ``member_activities``: an RSVP
  or an attendance earns its points once, however often a member changes their mind.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE attendance_status ADD VALUE IF NOT EXISTS 'waitlisted'")
    op.add_column('events', sa.Column('venue_code_required', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
    op.add_column('events', sa.Column('walk_ins', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
    op.add_column('events', sa.Column('capacity_notified', sa.SmallInteger(),
                                      server_default=sa.text('0'), nullable=False))
    op.add_column('events', sa.Column('announcement_id', postgresql.UUID(as_uuid=True),
                                      nullable=True))
    op.create_foreign_key('events_announcement_id_fkey', 'events', 'announcements',
                          ['announcement_id'], ['id'], ondelete='SET NULL')
    op.add_column('events', sa.Column('request_key', sa.String(length=64), nullable=True))
    op.create_unique_constraint('events_request_key_key', 'events', ['request_key'])
    op.add_column('event_attendees', sa.Column('offered_until', sa.DateTime(timezone=True),
                                               nullable=True))
    op.add_column('event_attendees', sa.Column('reminded_minutes', postgresql.ARRAY(sa.Integer()),
                                               server_default=sa.text("'{}'"), nullable=False))
    op.add_column('event_attendees', sa.Column('check_in_method', sa.String(length=16),
                                               nullable=True))
    op.add_column('event_attendees', sa.Column('checked_in_by', postgresql.UUID(as_uuid=True),
                                               nullable=True))
    op.create_foreign_key('event_attendees_checked_in_by_fkey', 'event_attendees', 'members',
                          ['checked_in_by'], ['id'], ondelete='SET NULL')
    op.create_index('idx_event_attendees_event_status', 'event_attendees',
                    ['event_id', 'status', 'registered_at'])
    op.create_unique_constraint('uq_member_activities_once', 'member_activities',
                                ['member_id', 'activity_type', 'activity_id'])


def downgrade() -> None:
    op.drop_constraint('uq_member_activities_once', 'member_activities', type_='unique')
    op.drop_index('idx_event_attendees_event_status', table_name='event_attendees')
    op.drop_constraint('event_attendees_checked_in_by_fkey', 'event_attendees',
                       type_='foreignkey')
    for column in ('checked_in_by', 'check_in_method', 'reminded_minutes', 'offered_until'):
        op.drop_column('event_attendees', column)
    op.drop_constraint('events_request_key_key', 'events', type_='unique')
    op.drop_constraint('events_announcement_id_fkey', 'events', type_='foreignkey')
    for column in ('request_key', 'announcement_id', 'capacity_notified', 'walk_ins',
                   'venue_code_required'):
        op.drop_column('events', column)
    # PostgreSQL cannot drop an enum value: rows waiting are cancelled, the value stays.
    op.execute("UPDATE event_attendees SET status = 'cancelled' WHERE status = 'waitlisted'")
