"""uncertain deliveries: a send whose outcome a dead worker took with it

A delivery found in ``sending`` after its worker died, lost its lease, lost Redis or
PostgreSQL, or hit the job timeout may or may not have reached the provider, and
Twilio, Telegram and the DLT providers do not honour idempotency keys
(docs/notifier.md, "With real providers"):

- the ``delivery_status`` value ``uncertain``: the provider could not be asked, or its
  answer did not settle it (Telegram always). Not sent again; counted in the reports;
- ``announcement_deliveries.reconciliation``: how such a send was settled —
  ``found`` (the provider had it: recorded with its message id, not sent again),
  ``resent`` (the provider had no record: sent again; a duplicate if the first request
  was still on its way), ``unknown`` (stays ``uncertain``), ``reported`` (a DLT
  delivery report carrying its CustomField settled it later). NULL for every send that
  was never in doubt.

Downgrade: rows in ``uncertain`` become ``failed`` (error_code ``uncertain``) and the
column goes; PostgreSQL cannot drop an enum value, so ``uncertain`` stays in the type.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE delivery_status ADD VALUE IF NOT EXISTS 'uncertain'")
    op.add_column(
        "announcement_deliveries", sa.Column("reconciliation", sa.String(length=16), nullable=True)
    )


def downgrade() -> None:
    op.execute(
        "UPDATE announcement_deliveries SET status = 'failed', error_code = 'uncertain',"
        " failed_at = coalesce(failed_at, now()) WHERE status = 'uncertain'"
    )
    op.drop_column("announcement_deliveries", "reconciliation")
