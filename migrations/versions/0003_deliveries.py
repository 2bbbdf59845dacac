"""announcement deliveries, message templates, announcement fan-out columns

Why each departure from the seed: docs/notifier.md and docs/schema-changes.md.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS = ("delivery_status", "template_category", "announcement_status")

# The announcement templates every deployment needs. The ids are placeholders: the
# operator replaces them with the ContentSid Twilio returns once Meta approves the
# template, and the DLT template id the operator's DLT portal shows.
TEMPLATES = (
    {
        "name": "announcement",
        "language": "ta",
        "whatsapp_content_sid": "HX00000000000000000000000000000001",
        "whatsapp_body": "விடுதலைச் சிறுத்தைகள் கட்சி அறிவிப்பு: {{1}}\n\n{{2}}",
        "dlt_template_id": "1107000000000000010",
        "body": "விசிக அறிவிப்பு: {#var#}{#var#}{#var#}{#var#}",
    },
    {
        "name": "announcement",
        "language": "en",
        "whatsapp_content_sid": "HX00000000000000000000000000000002",
        "whatsapp_body": "VCK announcement: {{1}}\n\n{{2}}",
        "dlt_template_id": "1107000000000000011",
        "body": "VCK announcement: {#var#}{#var#}{#var#}{#var#}",
    },
)


def upgrade() -> None:
    op.create_table('announcement_deliveries',
    sa.Column('announcement_id', sa.UUID(), nullable=False),
    sa.Column('member_id', sa.UUID(), nullable=False),
    sa.Column('batch', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('via_template', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('route_reason', sa.String(length=32), nullable=True),
    sa.Column('status', postgresql.ENUM('queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'deferred', name='delivery_status'), server_default=sa.text("'queued'"), nullable=False),
    sa.Column('provider_message_id', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sms_parts', sa.SmallInteger(), nullable=True),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('whatsapp_tier_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sending_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('announcement_id', 'member_id', name='announcement_deliveries_pkey')
    )
    op.create_index('idx_deliveries_pending', 'announcement_deliveries', ['announcement_id', 'batch'], unique=False, postgresql_where=sa.text("status IN ('queued', 'sending', 'deferred')"))
    op.create_index('idx_deliveries_provider_message', 'announcement_deliveries', ['provider', 'provider_message_id'], unique=False, postgresql_where=sa.text('provider_message_id IS NOT NULL'))
    op.create_index('idx_deliveries_whatsapp_tier', 'announcement_deliveries', ['whatsapp_tier_at'], unique=False, postgresql_where=sa.text('whatsapp_tier_at IS NOT NULL'))
    templates = op.create_table('message_templates',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('category', postgresql.ENUM('marketing', 'utility', 'authentication', name='template_category'), nullable=False),
    sa.Column('whatsapp_content_sid', sa.String(length=64), nullable=True),
    sa.Column('whatsapp_variables', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('whatsapp_body', sa.Text(), nullable=True),
    sa.Column('dlt_entity_id', sa.String(length=30), nullable=True),
    sa.Column('dlt_template_id', sa.String(length=30), nullable=True),
    sa.Column('dlt_header', sa.String(length=11), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('message_templates_pkey')),
    sa.UniqueConstraint('name', 'language', name=op.f('message_templates_name_language_key'))
    )
    announcement_status = postgresql.ENUM('draft', 'scheduled', 'published', 'cancelled', name='announcement_status')
    announcement_status.create(op.get_bind(), checkfirst=True)
    op.add_column('announcements', sa.Column('sms_text', sa.Text(), nullable=True))
    op.add_column('announcements', sa.Column('status', postgresql.ENUM(name='announcement_status', create_type=False), server_default=sa.text("'draft'"), nullable=False))
    op.add_column('announcements', sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('announcements', sa.Column('fanned_out_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('announcements', sa.Column('template_name', sa.String(length=64), nullable=True))
    op.create_index('idx_announcements_scheduled', 'announcements', ['publish_at'], unique=False, postgresql_where=sa.text("status = 'scheduled'"))
    op.bulk_insert(templates, [
        {
            **t,
            "category": "marketing",
            "whatsapp_variables": {"1": "title", "2": "content"},
        }
        for t in TEMPLATES
    ])


def downgrade() -> None:
    op.drop_index('idx_announcements_scheduled', table_name='announcements', postgresql_where=sa.text("status = 'scheduled'"))
    op.drop_column('announcements', 'template_name')
    op.drop_column('announcements', 'fanned_out_at')
    op.drop_column('announcements', 'published_at')
    op.drop_column('announcements', 'status')
    op.drop_column('announcements', 'sms_text')
    op.drop_table('message_templates')
    op.drop_index('idx_deliveries_whatsapp_tier', table_name='announcement_deliveries', postgresql_where=sa.text('whatsapp_tier_at IS NOT NULL'))
    op.drop_index('idx_deliveries_provider_message', table_name='announcement_deliveries', postgresql_where=sa.text('provider_message_id IS NOT NULL'))
    op.drop_index('idx_deliveries_pending', table_name='announcement_deliveries', postgresql_where=sa.text("status IN ('queued', 'sending', 'deferred')"))
    op.drop_table('announcement_deliveries')
    for name in ENUMS:
        op.execute(f'DROP TYPE IF EXISTS {name}')
