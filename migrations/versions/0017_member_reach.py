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
the given members by it. Triggers call it when something it reads changes — an
address added, removed, moved, opted out or refused; a member added active, or their
status, phone or language changed; a unit joined or left; a unit's path changed.
``last_inbound_at`` is not copied (it changes with every conversation): the fan-out
looks the WhatsApp window up on the address it chose, among the WhatsApp addresses that
wrote in the last 24 hours (``idx_channel_addresses_whatsapp_inbound``: a range of an
index instead of reading all 1.75 M addresses twice per member range — the state-wide
fan-out 4.05 s → 3.33 s; the conversation's touch of ``last_inbound_at``, once a minute
at most, is no longer a HOT update).

Inserts and deletes fire once per statement (their transition table names the
members: a bulk insert refreshes them in one call), updates once per row and only when
a column the row is derived from changed.

Concurrency: the refresh first locks the members' rows (``FOR NO KEY UPDATE``, in id
order), so two transactions changing one member refresh one after the other, and the
second computes its row from a snapshot taken after the first committed (READ
COMMITTED gives each statement of the function a new snapshot). Without the lock, a
Telegram chat linked while an official verifies the member could leave a row that has
neither change.

A bulk load (core/seed/synthetic.py) disables the triggers and rebuilds the table
(core/reach.py, also ``vck db reach --rebuild``).

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
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  PERFORM 1 FROM members WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
  DELETE FROM member_reach WHERE member_id = ANY(ids);
  INSERT INTO member_reach ({COLUMNS})
  SELECT {COLUMNS} FROM member_reach_source WHERE member_id = ANY(ids);
END
$$
"""
"""Planned for each call's ids (``force_custom_plan``): a cached generic plan cannot tell
one member (a signup: index lookups) from thousands (a bulk insert: a join), and took
three times as long for 2,000. Planning costs about 0.1 ms of a call's 0.5 ms."""

ON_ROWS = """
CREATE FUNCTION member_reach_on_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
BEGIN
  IF TG_TABLE_NAME = 'members' THEN
    SELECT array_agg(id) INTO ids FROM changed WHERE status = 'active';
  ELSE
    SELECT array_agg(DISTINCT member_id) INTO ids FROM changed WHERE member_id IS NOT NULL;
  END IF;
  IF ids IS NOT NULL THEN
    PERFORM member_reach_refresh(ids);
  END IF;
  RETURN NULL;
END
$$
"""
"""Rows inserted or deleted: one refresh per statement for all their members (a signup
inserts one row; a bulk insert thousands). A stranger's address (no member yet: a first
contact) refreshes nothing."""

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
"""A row updated in a column the reach is derived from (the trigger's WHEN says which:
the conversation's own writes, such as ``last_inbound_at``, fire nothing)."""


def _changed(*columns: str) -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


def _on_rows(name: str, table: str, event: str) -> tuple[str, str, str]:
    rows = "NEW" if event == "INSERT" else "OLD"
    return (
        name,
        table,
        f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {rows} TABLE AS changed"
        " FOR EACH STATEMENT EXECUTE FUNCTION member_reach_on_rows()",
    )


def _on_row(
    name: str, table: str, columns: tuple[str, ...], when: str = ""
) -> tuple[str, str, str]:
    return (
        name,
        table,
        f"CREATE TRIGGER {name} AFTER UPDATE OF {', '.join(columns)} ON {table} FOR EACH ROW"
        f" WHEN ({when}({_changed(*columns)})) EXECUTE FUNCTION member_reach_on_row()",
    )


TRIGGERS = (
    _on_rows("member_reach_addresses_added", "channel_addresses", "INSERT"),
    _on_rows("member_reach_addresses_removed", "channel_addresses", "DELETE"),
    _on_row(
        "member_reach_address_changed",
        "channel_addresses",
        ("member_id", "channel", "address", "opted_out_at", "consent_refused_at"),
        "(OLD.member_id IS NOT NULL OR NEW.member_id IS NOT NULL) AND ",
    ),
    _on_rows("member_reach_members_added", "members", "INSERT"),
    # A member deleted takes their row with them (the foreign key cascades).
    _on_row("member_reach_member_changed", "members", ("status", "phone", "language")),
    _on_rows("member_reach_units_joined", "member_units", "INSERT"),
    _on_rows("member_reach_units_left", "member_units", "DELETE"),
    _on_row("member_reach_unit_changed", "member_units", ("member_id", "unit_id", "left_at")),
    _on_row("member_reach_unit_moved", "organization_units", ("path",)),
)
"""(name, table, DDL) of each trigger; a bulk load turns them off by their names'
prefix (core/seed/synthetic.py)."""


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
    op.create_index(
        "idx_channel_addresses_whatsapp_inbound",
        "channel_addresses",
        ["last_inbound_at"],
        postgresql_where=sa.text("channel = 'whatsapp'"),
    )
    op.execute(SOURCE)
    op.execute(REFRESH)
    op.execute(ON_ROWS)
    op.execute(ON_ROW)
    for _, _, ddl in TRIGGERS:
        op.execute(ddl)
    op.execute(f"INSERT INTO member_reach ({COLUMNS}) SELECT {COLUMNS} FROM member_reach_source")


def downgrade() -> None:
    for name, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION member_reach_on_row()")
    op.execute("DROP FUNCTION member_reach_on_rows()")
    op.execute("DROP FUNCTION member_reach_refresh(uuid[])")
    op.execute("DROP VIEW member_reach_source")
    op.drop_index("idx_channel_addresses_whatsapp_inbound", table_name="channel_addresses")
    op.drop_index("idx_member_reach_paths", table_name="member_reach")
    op.drop_table("member_reach")
