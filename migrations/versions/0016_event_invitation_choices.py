"""an event's invitation carries its answers: the templates it goes as, and the index a
bare "1" or "ஆம்" finds it by

An event's invitation (core/services/events.py ``publish``) goes through the announcement
fan-out under its own templates, ``event_invitation``, instead of the announcement's:

- by SMS (DLT on Indian numbers, Twilio elsewhere) the text ends with the answers a
  feature phone can type, ``வருவீர்களா? 1 = வருவேன், 2 = இல்லை``: a new text, so its own
  DLT template (a registered template's text cannot change);
- on WhatsApp outside the 24-hour window, an approved template with two quick-reply
  buttons whose payloads are ``rsvp:y`` and ``rsvp:n`` (core/services/invitations.py).

The ids are placeholders, as migration 0003's: the operator replaces them with the
ContentSid Twilio returns once Meta approves the template and the id the DLT portal
gives (docs/notifier.md, "Event invitations").

``idx_events_invitations``: a member who answers "1" with no question pending is
matched to the invitations of events not yet over (core/services/invitations.py), a
short range of this index, each joined to its delivery row by primary key.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 09:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VARIABLES = {"1": "title", "2": "when", "3": "venue"}

# whatsapp_body: the approved text (its buttons: docs/notifier.md); body: the DLT text,
# two 30-character slots for "<title>, <dd/mm HH:MM>" (core/announcements.py), so the
# Tamil SMS is two parts at most.
TEMPLATES = (
    {
        "language": "ta",
        "whatsapp_content_sid": "HX00000000000000000000000000000007",
        "whatsapp_body": "விசிக நிகழ்வு அழைப்பு: {{1}}, {{2}}, இடம்: {{3}}. வருவீர்களா?",
        "dlt_template_id": "1107000000000000012",
        "body": "விசிக நிகழ்வு: {#var#}{#var#}\nவருவீர்களா? 1 = வருவேன், 2 = இல்லை",
    },
    {
        "language": "en",
        "whatsapp_content_sid": "HX00000000000000000000000000000008",
        "whatsapp_body": "VCK event invitation: {{1}} on {{2}} at {{3}}. Will you come?",
        "dlt_template_id": "1107000000000000013",
        "body": "VCK event: {#var#}{#var#}\nWill you come? Reply 1 = Yes, 2 = No",
    },
)

_INSERT = sa.text(
    "INSERT INTO message_templates (name, language, category, whatsapp_content_sid,"
    " whatsapp_variables, whatsapp_body, dlt_template_id, body)"
    " VALUES ('event_invitation', :language, 'marketing', :sid, CAST(:variables AS jsonb),"
    " :wa_body, :dlt_id, :body)"
    " ON CONFLICT (name, language) DO NOTHING"
)


def upgrade() -> None:
    bind = op.get_bind()
    for t in TEMPLATES:
        bind.execute(
            _INSERT,
            {
                "language": t["language"],
                "sid": t["whatsapp_content_sid"],
                "variables": json.dumps(VARIABLES),
                "wa_body": t["whatsapp_body"],
                "dlt_id": t["dlt_template_id"],
                "body": t["body"],
            },
        )
    op.create_index(
        "idx_events_invitations",
        "events",
        ["end_time"],
        postgresql_where=sa.text("announcement_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "idx_events_invitations",
        table_name="events",
        postgresql_where=sa.text("announcement_id IS NOT NULL"),
    )
    op.execute("DELETE FROM message_templates WHERE name = 'event_invitation'")
