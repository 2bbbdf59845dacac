"""member_reach: each active member's reachable addresses and units, kept by triggers,
so an announcement's fan-out reads one narrow row per member instead of joining
members, units and addresses and grouping them per member

``member_reach`` holds one row per active member with at least one active unit: their
language, the first usable address on each channel (WhatsApp, Telegram, SMS; usable:
not opted out, consent not refused), their membership phone when it may stand in for an
SMS address (no SMS address and no address that said STOP or refused consent), and the
paths of their active units. ``core/fanout.py`` selects an announcement's audience with
``paths <@ scope`` (GiST for a district or a booth, a scan for the state).

It is derived data, never written by the application: ``member_reach_source`` is what
the row of each member should be, and ``member_reach_refresh(ids)`` replaces the rows of
the given members by it. Row triggers call it when something it reads changes — an
address added, removed, moved, opted out or refused; a member added active, or their
status, phone or language changed; a unit joined or left; a unit's path changed.
``last_inbound_at`` is not copied (it changes with every conversation): the fan-out
looks the WhatsApp window up on the address it chose, by the unique (channel, address).

Concurrency: the refresh first locks the members' rows (``FOR NO KEY UPDATE``, in id
order), so two transactions changing one member refresh one after the other, and the
second computes its row from a snapshot taken after the first committed (READ
COMMITTED gives each statement of the function a new snapshot). Without the lock, a
Telegram chat linked while an official verifies the member could leave a row that has
neither change.

A bulk load (core/seed/synthetic.py) disables the triggers and rebuilds the table.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.models.types import LtreeType

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "member_id, language, wa, tg, sms, phone, paths"

SOURCE = """
CREATE VIEW member_reach_source AS
SELECT m.id AS member_id, m.language,
  min(ca.address) FILTER (WHERE ca.channel = 'whatsapp' AND ca.usable) AS wa,
  min(ca.address) FILTER (WHERE ca.channel = 'telegram' AND ca.usable) AS tg,
  min(ca.address) FILTER (WHERE ca.channel = 'sms' AND ca.usable) AS sms,
  CASE WHEN count(ca.member_id) FILTER (WHERE ca.channel = 'sms' OR NOT ca.usable) = 0
       THEN m.phone END AS phone,
  u.paths
FROM members m
CROSS JOIN LATERAL (
  SELECT array_agg(DISTINCT o.path ORDER BY o.path) AS paths
  FROM member_units mu JOIN organization_units o ON o.id = mu.unit_id
  WHERE mu.member_id = m.id AND mu.left_at IS NULL
) u
LEFT JOIN (
  SELECT member_id, channel, address,
         opted_out_at IS NULL AND consent_refused_at IS NULL AS usable
  FROM channel_addresses
) ca ON ca.member_id = m.id
WHERE m.status = 'active' AND u.paths IS NOT NULL
GROUP BY m.id, u.paths
"""

REFRESH = f"""
CREATE FUNCTION member_reach_refresh(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM members WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
  DELETE FROM member_reach WHERE member_id = ANY(ids);
  INSERT INTO member_reach ({COLUMNS})
  SELECT {COLUMNS} FROM member_reach_source WHERE member_id = ANY(ids);
END
$$
"""

# One function per way a row names its member.
ON_ROW = """
CREATE FUNCTION member_reach_on_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'members' THEN
    PERFORM member_reach_refresh(ARRAY[NEW.id]);
  ELSIF TG_TABLE_NAME = 'organization_units' THEN
    PERFORM member_reach_refresh(ARRAY(
      SELECT member_id FROM member_units WHERE unit_id = NEW.id AND member_id IS NOT NULL));
  ELSE
    PERFORM member_reach_refresh(array_remove(ARRAY[OLD.member_id, NEW.member_id], NULL));
  END IF;
  RETURN NULL;
END
$$
"""


def _changed(*columns: str) -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


TRIGGERS = {
    # name: (table, event, condition)
    # A stranger's address (no member yet: a first contact) fires nothing.
    "member_reach_address_added": ("channel_addresses", "INSERT", "NEW.member_id IS NOT NULL"),
    "member_reach_address_removed": (
        "channel_addresses",
        "DELETE",
        "OLD.member_id IS NOT NULL",
    ),
    "member_reach_address_changed": (
        "channel_addresses",
        "UPDATE OF member_id, channel, address, opted_out_at, consent_refused_at",
        "(OLD.member_id IS NOT NULL OR NEW.member_id IS NOT NULL) AND ("
        + _changed("member_id", "channel", "address", "opted_out_at", "consent_refused_at")
        + ")",
    ),
    "member_reach_member_added": ("members", "INSERT", "NEW.status = 'active'"),
    "member_reach_member_changed": (
        "members",
        "UPDATE OF status, phone, language",
        _changed("status", "phone", "language"),
    ),
    "member_reach_unit_joined": ("member_units", "INSERT OR DELETE", None),
    "member_reach_unit_changed": (
        "member_units",
        "UPDATE OF member_id, unit_id, left_at",
        _changed("member_id", "unit_id", "left_at"),
    ),
    "member_reach_unit_moved": ("organization_units", "UPDATE OF path", _changed("path")),
}
"""Kept in step with core.seed.synthetic.REACH_TRIGGERS (a bulk load disables them)."""


def upgrade() -> None:
    op.create_table(
        "member_reach",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("wa", sa.String(length=64), nullable=True),
        sa.Column("tg", sa.String(length=64), nullable=True),
        sa.Column("sms", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=15), nullable=True),
        sa.Column("paths", postgresql.ARRAY(LtreeType()), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index("idx_member_reach_paths", "member_reach", ["paths"], postgresql_using="gist")
    op.execute(SOURCE)
    op.execute(REFRESH)
    op.execute(ON_ROW)
    for name, (table, event, condition) in TRIGGERS.items():
        when = f" WHEN ({condition})" if condition else ""
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table}"
            f" FOR EACH ROW{when} EXECUTE FUNCTION member_reach_on_row()"
        )
    op.execute(f"INSERT INTO member_reach ({COLUMNS}) SELECT {COLUMNS} FROM member_reach_source")


def downgrade() -> None:
    for name, (table, _, _) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION member_reach_on_row()")
    op.execute("DROP FUNCTION member_reach_refresh(uuid[])")
    op.execute("DROP VIEW member_reach_source")
    op.drop_index("idx_member_reach_paths", table_name="member_reach")
    op.drop_table("member_reach")
