"""the WhatsApp utility templates notices go as outside the 24-hour window

A notice to one member (an event's reminder, a change to their complaint) goes as an
approved WhatsApp *utility* template when their best channel is WhatsApp and they have
not written in 24 hours (core/notice_templates.py). These rows register the two
templates, in Tamil and English, as migration 0003 registers the announcement's: the
ContentSids are placeholders the operator replaces with those Twilio returns once Meta
approves each template (docs/notifier.md, "Notice templates"). No schema change:
``message_templates`` already holds them (category ``utility``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 01:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REMINDER_VARIABLES = {"1": "title", "2": "when", "3": "venue"}
UPDATE_VARIABLES = {"1": "ticket", "2": "status"}

# body: the approved WhatsApp text, for operators and previews (the SMS fallback is the
# notice's own free text, under its DLT template: core/dlt_templates.py).
TEMPLATES = (
    {
        "name": "event_reminder",
        "language": "ta",
        "whatsapp_content_sid": "HX00000000000000000000000000000003",
        "whatsapp_variables": REMINDER_VARIABLES,
        "whatsapp_body": "விசிக நினைவூட்டல்: {{1}}, {{2}}, இடம்: {{3}}. வாருங்கள்!",
    },
    {
        "name": "event_reminder",
        "language": "en",
        "whatsapp_content_sid": "HX00000000000000000000000000000004",
        "whatsapp_variables": REMINDER_VARIABLES,
        "whatsapp_body": "VCK reminder: {{1}} on {{2}} at {{3}}. See you there.",
    },
    {
        "name": "grievance_update",
        "language": "ta",
        "whatsapp_content_sid": "HX00000000000000000000000000000005",
        "whatsapp_variables": UPDATE_VARIABLES,
        "whatsapp_body": "உங்கள் விசிக புகார் {{1}}: {{2}}",
    },
    {
        "name": "grievance_update",
        "language": "en",
        "whatsapp_content_sid": "HX00000000000000000000000000000006",
        "whatsapp_variables": UPDATE_VARIABLES,
        "whatsapp_body": "Update on your VCK complaint {{1}}: {{2}}",
    },
)

_INSERT = sa.text(
    "INSERT INTO message_templates"
    " (name, language, category, whatsapp_content_sid, whatsapp_variables, whatsapp_body, body)"
    " VALUES (:name, :language, 'utility', :sid, CAST(:variables AS jsonb), :wa_body, :wa_body)"
    " ON CONFLICT (name, language) DO NOTHING"
)


def upgrade() -> None:
    bind = op.get_bind()
    for t in TEMPLATES:
        bind.execute(
            _INSERT,
            {
                "name": t["name"],
                "language": t["language"],
                "sid": t["whatsapp_content_sid"],
                "variables": json.dumps(t["whatsapp_variables"]),
                "wa_body": t["whatsapp_body"],
            },
        )


def downgrade() -> None:
    op.execute("DELETE FROM message_templates WHERE name IN ('event_reminder', 'grievance_update')")
