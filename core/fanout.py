"""The announcement fan-out: who receives it, on which channel, in which batch.

:func:`publish` computes every delivery row of an announcement in one set-based
statement (:data:`ROWS_SQL`, into a temporary table, so PostgreSQL may use parallel
workers) and writes them all in one ``INSERT`` (:data:`INSERT_SQL`), in one
transaction: a row for each distinct active member with an active unit inside the
announcement's unit (``path <@ scope``), with their channel chosen in SQL:

1. WhatsApp, when they have a WhatsApp address that is not opted out — free text inside
   the 24-hour window (they wrote in the last 24 h), else the approved template, which
   takes one of the account's daily unique-recipient slots (the tier, rolling 24 h,
   shared with every other business-initiated message: core/whatsapp_tier.py);
2. Telegram, when they have a chat that is not opted out (or WhatsApp's tier is full);
3. SMS: their SMS address, or their membership phone when they have no SMS address and
   never said STOP on any channel; Indian numbers through the DLT provider, others
   through Twilio (``sms_dlt_country_codes``).

Beyond the WhatsApp tier a member goes by Telegram or SMS when they have one
(``route_reason = 'whatsapp_tier'``), else waits (``status = 'deferred'``) until
:func:`release_deferred` finds capacity the next day. Members with no address left
(opted out everywhere) get no row at all.

Each row gets its batch number as it is computed (a running count divided by the
batch size), so the caller enqueues one send job per batch without another scan.
An announcement is fanned out once: :func:`publish` locks it and writes rows only while
it is still scheduled, in the transaction that marks it published (the primary key
(announcement, member) would refuse a second row; no ``ON CONFLICT`` check is needed,
which spares the state-wide insert about a third of its time).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from core import routing, whatsapp_tier
from core.config import Settings

WINDOW = routing.WHATSAPP_WINDOW


@dataclass(frozen=True, slots=True)
class FanoutPolicy:
    batch_size: int = 500
    whatsapp_daily_limit: int = 100_000
    dlt_prefixes: tuple[str, ...] = ("+91",)
    overflow_to_sms: bool = True
    """Beyond the WhatsApp tier, members with no Telegram get SMS (else they wait)."""
    phone_fallback: bool = True
    """SMS to the membership phone of a member with no SMS address who never said STOP."""
    work_mem: str = "256MB"
    statement_timeout_seconds: float = 600.0
    """The fan-out's statement and lock timeout, instead of the process's short ones."""
    parts: int = 1
    """Member ranges computed and written at once on their own connections (a split
    fan-out); 1 computes and writes every row in the caller's transaction."""
    split_min_members: int = 100_000
    """Active memberships in scope from which a fan-out is split."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FanoutPolicy:
        return cls(
            batch_size=max(1, settings.fanout_batch_size),
            whatsapp_daily_limit=settings.whatsapp_daily_unique_limit,
            dlt_prefixes=settings.dlt_prefixes,
            overflow_to_sms=settings.fanout_overflow_to_sms,
            phone_fallback=settings.fanout_phone_fallback,
            statement_timeout_seconds=settings.fanout_statement_timeout_seconds,
            parts=max(1, settings.fanout_parts),
            split_min_members=settings.fanout_split_min_members,
        )

    @property
    def dlt_patterns(self) -> list[str]:
        """The DLT prefixes for the SQL's provider choice (core.routing decides it)."""
        return routing.dlt_patterns(self.dlt_prefixes)


class PublishState(StrEnum):
    PUBLISHED = "published"
    """Rows written now."""
    ALREADY = "already"
    """Published before: nothing written; ``batches`` are those still unfinished."""
    NOT_YET = "not_yet"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Publication:
    state: PublishState
    rows: int = 0
    batches: range = range(0)


# A member's usable addresses: not opted out and no consent refused.
_USABLE = "ca.opted_out_at IS NULL AND ca.consent_refused_at IS NULL"

AUDIENCE_SQL = """
SELECT m.id AS member_id, m.language,
  min(ca.address) FILTER (WHERE ca.channel = 'whatsapp' AND ca.usable) AS wa,
  coalesce(max(ca.last_inbound_at) FILTER (WHERE ca.channel = 'whatsapp' AND ca.usable)
           >= CAST(:window_start AS timestamptz), false) AS wa_open,
  min(ca.address) FILTER (WHERE ca.channel = 'telegram' AND ca.usable) AS tg,
  coalesce(
    min(ca.address) FILTER (WHERE ca.channel = 'sms' AND ca.usable),
    CASE WHEN CAST(:phone_fallback AS boolean)
          AND count(ca.member_id) FILTER (WHERE ca.channel = 'sms' OR NOT ca.usable) = 0
         THEN m.phone END
  ) AS sms_addr
FROM members m
LEFT JOIN (
  SELECT member_id, channel, address, last_inbound_at,
         opted_out_at IS NULL AND consent_refused_at IS NULL AS usable
  FROM channel_addresses
) ca ON ca.member_id = m.id
WHERE m.status = 'active'
  AND EXISTS (
    SELECT 1 FROM member_units mu JOIN organization_units u ON u.id = mu.unit_id
    WHERE mu.member_id = m.id AND mu.left_at IS NULL
      AND u.path <@ CAST(:scope AS ltree))
GROUP BY m.id
"""

_ROUTED_SQL = """
routed AS (
  SELECT k.*,
    CASE
      WHEN k.wa IS NOT NULL
           AND (NOT k.wa_template OR k.wa_counted OR k.wa_rank <= CAST(:tier_budget AS bigint))
        THEN 'whatsapp'
      WHEN k.tg IS NOT NULL THEN 'telegram'
      WHEN CAST(:allow_sms AS boolean) AND k.sms_addr IS NOT NULL
           AND (k.wa IS NULL OR CAST(:overflow_sms AS boolean))
        THEN 'sms'
      WHEN k.wa IS NOT NULL THEN 'deferred'
    END AS route
  FROM ranked k
)
"""

_ROW_SELECT_SQL = """
SELECT {prefix} r.member_id,
  CASE WHEN r.route <> 'deferred'
       THEN CAST(:batch_offset AS integer)
            + CAST((count(*) FILTER (WHERE r.route <> 'deferred') OVER w - 1)
                   / CAST(:batch_size AS integer) AS integer) END AS batch,
  CASE WHEN r.route = 'deferred' THEN 'whatsapp' ELSE r.route END AS channel,
  CASE r.route
    WHEN 'telegram' THEN 'telegram'
    WHEN 'sms' THEN CASE WHEN r.sms_addr LIKE ANY (CAST(:dlt_patterns AS text[]))
                         THEN 'dlt' ELSE 'twilio' END
    ELSE 'twilio' END AS provider,
  CASE r.route WHEN 'telegram' THEN r.tg WHEN 'sms' THEN r.sms_addr ELSE r.wa END AS address,
  r.language,
  r.route IN ('whatsapp', 'deferred') AND r.wa_template AS via_template,
  CASE WHEN r.wa IS NOT NULL AND r.route <> 'whatsapp' THEN 'whatsapp_tier' END
    AS route_reason,
  CAST(CASE WHEN r.route = 'deferred' THEN 'deferred' ELSE 'queued' END AS delivery_status)
    AS status,
  CASE WHEN r.route = 'whatsapp' AND r.wa_template AND NOT r.wa_counted
       THEN CAST(:now AS timestamptz) END AS whatsapp_tier_at
FROM routed r
WHERE r.route IS NOT NULL
WINDOW w AS (ORDER BY r.member_id ROWS UNBOUNDED PRECEDING)
"""

ROWS_SQL = f"""
CREATE TEMP TABLE fanout_rows AS
WITH recent AS MATERIALIZED ({whatsapp_tier.RECENT_MEMBERS_SQL}),
audience AS ({AUDIENCE_SQL}),
ranked AS (
  SELECT a.*, a.wa IS NOT NULL AND NOT a.wa_open AS wa_template,
         r.member_id IS NOT NULL AS wa_counted,
         count(*) FILTER (WHERE a.wa IS NOT NULL AND NOT a.wa_open AND r.member_id IS NULL)
           OVER (ORDER BY a.member_id ROWS UNBOUNDED PRECEDING) AS wa_rank
  FROM audience a LEFT JOIN recent r ON r.member_id = a.member_id
),
{_ROUTED_SQL}
{_ROW_SELECT_SQL.format(prefix="")}
"""
"""Every delivery row of the announcement, into a temporary table: a ``CREATE TABLE …
AS`` may be computed by parallel workers, an ``INSERT … SELECT`` may not."""

_ROW_COLUMNS = (
    "member_id, batch, channel, provider, address, language, via_template, route_reason,"
    " status, whatsapp_tier_at"
)
INSERT_SQL = f"""
INSERT INTO announcement_deliveries (announcement_id, queued_at, {_ROW_COLUMNS})
SELECT CAST(:announcement_id AS uuid), CAST(:now AS timestamptz), {_ROW_COLUMNS}
FROM fanout_rows
"""


# --- a split fan-out: member ranges computed and written at once ----------------------


def _in_range(column: str) -> str:
    return (
        f"{column} >= CAST(:lo AS uuid)"
        f" AND ({column} < CAST(:hi AS uuid) OR CAST(:last AS boolean))"
    )


# Every table is narrowed to the range before it is joined: each part hashes only its
# share of the addresses and memberships, not all of them.
PART_AUDIENCE_SQL = (
    AUDIENCE_SQL.replace(
        "WHERE m.status = 'active'", f"WHERE m.status = 'active' AND {_in_range('m.id')}"
    )
    .replace(
        "  FROM channel_addresses\n", f"  FROM channel_addresses WHERE {_in_range('member_id')}\n"
    )
    .replace(
        "WHERE mu.member_id = m.id AND",
        f"WHERE mu.member_id = m.id AND {_in_range('mu.member_id')} AND",
    )
)
assert PART_AUDIENCE_SQL.count("CAST(:lo AS uuid)") == 3, PART_AUDIENCE_SQL

PART_STAGE_SQL = f"""
CREATE TEMP TABLE fanout_part AS
WITH recent AS MATERIALIZED ({whatsapp_tier.RECENT_MEMBERS_SQL}),
audience AS ({PART_AUDIENCE_SQL})
SELECT a.*, a.wa IS NOT NULL AND NOT a.wa_open AS wa_template,
       r.member_id IS NOT NULL AS wa_counted
FROM audience a LEFT JOIN recent r ON r.member_id = a.member_id
"""
"""One member range's audience (the costly join and grouping), in its connection's own
temporary table."""

PART_COUNTS_SQL = """
SELECT
  count(*) FILTER (WHERE wa IS NOT NULL OR tg IS NOT NULL
                   OR (CAST(:allow_sms AS boolean) AND sms_addr IS NOT NULL)) AS rows,
  count(*) FILTER (WHERE wa_template AND NOT wa_counted) AS new_templates
FROM fanout_part
"""
"""What the later ranges need: the rows this range writes at most (deferred ones
included), and its members who would take a new WhatsApp tier slot."""

PART_INSERT_SQL = f"""
INSERT INTO announcement_deliveries (announcement_id, queued_at, {_ROW_COLUMNS})
WITH ranked AS (
  SELECT a.*,
         CAST(:tier_offset AS bigint)
         + count(*) FILTER (WHERE a.wa_template AND NOT a.wa_counted)
             OVER (ORDER BY a.member_id ROWS UNBOUNDED PRECEDING) AS wa_rank
  FROM fanout_part a
),
{_ROUTED_SQL}
{_ROW_SELECT_SQL.format(prefix="CAST(:announcement_id AS uuid), CAST(:now AS timestamptz),")}
"""
"""One range's rows, ranked and numbered after the ranges before it: the same tier
ranks as one statement over every member, and batches that start where the previous
range's end."""

SPLIT_SIZE_SQL = """
SELECT count(*) FROM (
  SELECT 1 FROM member_units mu JOIN organization_units u ON u.id = mu.unit_id
  WHERE mu.left_at IS NULL AND u.path <@ CAST(:scope AS ltree) LIMIT :n) s
"""


def member_ranges(parts: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``parts`` contiguous ranges of member ids, [lo, hi) in uuid order (members' ids
    are random, so the ranges hold about as many members each)."""
    step = (1 << 128) // parts
    bounds = [uuid.UUID(int=i * step) for i in range(parts)] + [uuid.UUID(int=(1 << 128) - 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]  # the last one includes hi


def _parts_for(session: AsyncSession, policy: FanoutPolicy) -> int:
    """How many connections a split may take: the pool keeps the caller's."""
    if policy.parts <= 1 or not isinstance(session.bind, AsyncEngine):
        return 1
    pool_size = getattr(session.bind.pool, "size", lambda: 0)()
    return max(1, min(policy.parts, pool_size - 1))


async def _write_split(
    session: AsyncSession,
    announcement_id: uuid.UUID,
    parts: int,
    params: dict[str, Any],
    policy: FanoutPolicy,
) -> tuple[int, int]:
    """Compute and write the rows in ``parts`` member ranges, each on its own connection
    and in its own transaction, at once; returns (rows written, batches numbered).

    The caller holds the announcement's row lock (FOR UPDATE) and the tier lock and
    marks it published only after every range committed. A crash before that leaves
    the announcement scheduled with some ranges written: the next attempt deletes them
    (none was sent: batches are enqueued only after publishing) and writes all again."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    bound = f"{max(1, round(policy.statement_timeout_seconds * 1000))}ms"
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(engine.connect()) for _ in range(parts)]

        async def settings(conn: AsyncConnection) -> None:
            await conn.execute(
                text(
                    "SELECT set_config('statement_timeout', :t, true),"
                    " set_config('lock_timeout', :t, true),"
                    " set_config('work_mem', :w, true), set_config('jit', 'off', true),"
                    " set_config('max_parallel_workers_per_gather', '0', true)"
                ),
                {"t": bound, "w": policy.work_mem},
            )

        async with connections[0].begin():  # what a crashed attempt left
            await settings(connections[0])
            await connections[0].execute(
                text("DELETE FROM announcement_deliveries WHERE announcement_id = :a"),
                {"a": announcement_id},
            )

        async def stage(conn: AsyncConnection, lo: uuid.UUID, hi: uuid.UUID, last: bool) -> Any:
            try:
                async with conn.begin():
                    await settings(conn)
                    await conn.execute(
                        text(PART_STAGE_SQL), {**params, "lo": lo, "hi": hi, "last": last}
                    )
                    return (await conn.execute(text(PART_COUNTS_SQL), params)).one()
            except BaseException:
                await conn.invalidate()  # its temporary table goes with it
                raise

        counts = await asyncio.gather(
            *(
                stage(c, lo, hi, i == parts - 1)
                for i, (c, (lo, hi)) in enumerate(
                    zip(connections, member_ranges(parts), strict=True)
                )
            )
        )
        offsets, tier, batch = [], 0, 0
        for count in counts:
            offsets.append((tier, batch))
            tier += int(count.new_templates)
            batch += -(-int(count.rows) // policy.batch_size)

        async def write(conn: AsyncConnection, tier_offset: int, batch_offset: int) -> int:
            try:
                async with conn.begin():
                    await settings(conn)
                    result = await conn.execute(
                        text(PART_INSERT_SQL),
                        {
                            **params,
                            "announcement_id": announcement_id,
                            "tier_offset": tier_offset,
                            "batch_offset": batch_offset,
                        },
                    )
                    await conn.execute(text("DROP TABLE fanout_part"))
                    return int(result.rowcount or 0)
            except BaseException:
                await conn.invalidate()
                raise

        written = await asyncio.gather(
            *(write(c, t, b) for c, (t, b) in zip(connections, offsets, strict=True))
        )
    return sum(written), batch


async def _next_batch(session: AsyncSession, announcement_id: uuid.UUID) -> int:
    last = await session.scalar(
        text(
            "SELECT max(batch) FROM announcement_deliveries"
            " WHERE announcement_id = :a AND status IN ('queued', 'sending', 'deferred')"
        ),
        {"a": announcement_id},
    )
    done = await session.scalar(
        text("SELECT max(batch) FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": announcement_id},
    )
    values = [v for v in (last, done) if v is not None]
    return max(values) + 1 if values else 0


async def pending_batches(session: AsyncSession, announcement_id: uuid.UUID) -> range:
    """The span of batches that still hold queued or in-flight rows."""
    row = (
        await session.execute(
            text(
                "SELECT min(batch), max(batch) FROM announcement_deliveries"
                " WHERE announcement_id = :a AND status IN ('queued', 'sending')"
            ),
            {"a": announcement_id},
        )
    ).one()
    return range(row[0], row[1] + 1) if row[0] is not None else range(0)


async def allow_long_statements(session: AsyncSession, policy: FanoutPolicy) -> None:
    """Raise the process's short statement and lock timeouts (core.db.Timeouts) for
    this transaction only: a state-wide fan-out writes about a million rows in one
    statement, and a second publish waits for the first one's locks meanwhile."""
    bound = f"{max(1, round(policy.statement_timeout_seconds * 1000))}ms"
    both = "SELECT set_config('statement_timeout', :t, true), set_config('lock_timeout', :t, true)"
    await session.execute(text(both), {"t": bound})


async def publish(
    session: AsyncSession, announcement_id: uuid.UUID, *, now: datetime, policy: FanoutPolicy
) -> Publication:
    """Fan the announcement out if its time has come: write every delivery row and mark
    it published, in the caller's transaction (the caller commits, then enqueues the
    batches). Safe to call again: a published announcement writes nothing."""
    await allow_long_statements(session, policy)
    row = (
        await session.execute(
            text(
                "SELECT a.status, a.publish_at, a.expires_at, a.send_sms, u.path"
                " FROM announcements a LEFT JOIN organization_units u ON u.id = a.unit_id"
                " WHERE a.id = :a FOR UPDATE OF a"
            ),
            {"a": announcement_id},
        )
    ).one_or_none()
    if row is None or row.path is None:
        return Publication(PublishState.NOT_FOUND)
    if row.status == "published":
        return Publication(
            PublishState.ALREADY, batches=await pending_batches(session, announcement_id)
        )
    if row.status != "scheduled":
        return Publication(PublishState.CANCELLED)
    if row.publish_at is not None and row.publish_at > now:
        return Publication(PublishState.NOT_YET)
    mark = text(
        "UPDATE announcements SET status = 'published', published_at = :now,"
        " fanned_out_at = clock_timestamp() WHERE id = :a"
    )
    if row.expires_at is not None and row.expires_at <= now:
        await session.execute(mark, {"a": announcement_id, "now": now})
        return Publication(PublishState.EXPIRED)

    # One publish at a time counts and takes WhatsApp tier slots.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('vck:whatsapp-tier'))"))
    budget = await whatsapp_capacity(session, now=now, policy=policy)
    await session.execute(text(f"SET LOCAL work_mem = '{policy.work_mem}'"))
    # Measured on the synthetic million: JIT compiles longer than it saves here, and
    # grouping by a sort (instead of a hash) hands the window functions their member
    # order for free — 12-20% faster for a district and for the whole state. The
    # planner prices parallel workers too high for this plan; with them the state-wide
    # rows take 4.4 s to compute instead of 5.7 s.
    for setting in (
        "jit = off",
        "enable_hashagg = off",
        "parallel_setup_cost = 0",
        "parallel_tuple_cost = 0",
    ):
        await session.execute(text(f"SET LOCAL {setting}"))
    params: dict[str, Any] = {
        "scope": row.path,
        "now": now,
        "window_start": now - WINDOW,
        "tier_budget": budget,
        "batch_size": policy.batch_size,
        "dlt_patterns": policy.dlt_patterns,
        "allow_sms": row.send_sms is not False,
        "overflow_sms": policy.overflow_to_sms,
        "phone_fallback": policy.phone_fallback,
    }
    parts = _parts_for(session, policy)
    if parts > 1:
        size = await session.scalar(
            text(SPLIT_SIZE_SQL), {"scope": row.path, "n": policy.split_min_members}
        )
        if int(size or 0) >= policy.split_min_members:
            written, numbered = await _write_split(session, announcement_id, parts, params, policy)
            await session.execute(mark, {"a": announcement_id, "now": now})
            return Publication(PublishState.PUBLISHED, rows=written, batches=range(numbered))
    # What a split attempt that died left (none otherwise: one primary-key lookup).
    await session.execute(
        text("DELETE FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": announcement_id},
    )
    await session.execute(
        text(ROWS_SQL),
        {
            "scope": row.path,
            "now": now,
            "window_start": now - WINDOW,
            "tier_budget": budget,
            "batch_size": policy.batch_size,
            "batch_offset": 0,
            "dlt_patterns": policy.dlt_patterns,
            "allow_sms": row.send_sms is not False,
            "overflow_sms": policy.overflow_to_sms,
            "phone_fallback": policy.phone_fallback,
        },
    )
    result = await session.execute(
        text(INSERT_SQL), {"announcement_id": announcement_id, "now": now}
    )
    await session.execute(text("DROP TABLE fanout_rows"))  # rolled back with the rest on error
    rows = int(result.rowcount or 0)  # type: ignore[attr-defined]
    await session.execute(mark, {"a": announcement_id, "now": now})
    last = await session.scalar(
        text(
            "SELECT max(batch) FROM announcement_deliveries"
            " WHERE announcement_id = :a AND status IN ('queued', 'sending')"
        ),
        {"a": announcement_id},
    )
    batches = range(last + 1) if last is not None else range(0)
    return Publication(PublishState.PUBLISHED, rows=rows, batches=batches)


async def analyze(session: AsyncSession, policy: FanoutPolicy) -> None:
    """Refresh the planner's statistics of the delivery rows after a large fan-out."""
    await allow_long_statements(session, policy)
    await session.execute(text("ANALYZE announcement_deliveries"))


async def due_announcements(
    session: AsyncSession, *, now: datetime, limit: int = 100
) -> list[uuid.UUID]:
    """Scheduled announcements whose publish time has come."""
    rows = await session.scalars(
        text(
            "SELECT id FROM announcements WHERE status = 'scheduled'"
            " AND (publish_at IS NULL OR publish_at <= :now) ORDER BY publish_at LIMIT :n"
        ),
        {"now": now, "n": limit},
    )
    return list(rows)


async def unfinished_announcements(
    session: AsyncSession, *, now: datetime, horizon: timedelta = timedelta(days=3)
) -> list[uuid.UUID]:
    """Published announcements recent enough to still have rows to send."""
    rows = await session.scalars(
        text(
            "SELECT id FROM announcements WHERE status = 'published'"
            " AND fanned_out_at > :since"
            " AND (expires_at IS NULL"
            "      OR expires_at > CAST(:now AS timestamptz) - interval '1 hour')"
        ),
        {"since": now - horizon, "now": now},
    )
    return list(rows)


async def batches_with_work(
    session: AsyncSession, announcement_id: uuid.UUID, candidates: list[int]
) -> list[int]:
    """Which of ``candidates`` still hold queued or in-flight rows."""
    if not candidates:
        return []
    rows = await session.scalars(
        text(
            "SELECT DISTINCT batch FROM announcement_deliveries"
            " WHERE announcement_id = :a AND batch = ANY(:b) AND status IN ('queued', 'sending')"
        ),
        {"a": announcement_id, "b": candidates},
    )
    return sorted(rows)


# --- WhatsApp capacity --------------------------------------------------------------


async def whatsapp_capacity(session: AsyncSession, *, now: datetime, policy: FanoutPolicy) -> int:
    """Unique WhatsApp recipients the account may still reach outside the window today:
    announcements' and every other business-initiated message's (core/whatsapp_tier.py)."""
    return await whatsapp_tier.capacity(session, now=now, daily_limit=policy.whatsapp_daily_limit)


RELEASE_SQL = """
WITH picked AS (
  SELECT member_id FROM announcement_deliveries
  WHERE announcement_id = :a AND status = 'deferred'
  ORDER BY queued_at, member_id
  LIMIT :n
  FOR UPDATE SKIP LOCKED
),
numbered AS (
  SELECT member_id, :offset + CAST((row_number() OVER () - 1) / :bs AS integer) AS batch
  FROM picked
)
UPDATE announcement_deliveries d
SET status = 'queued', batch = n.batch, whatsapp_tier_at = :now, queued_at = :now
FROM numbered n
WHERE d.announcement_id = :a AND d.member_id = n.member_id
"""


async def release_deferred(
    session: AsyncSession, announcement_id: uuid.UUID, *, now: datetime, policy: FanoutPolicy
) -> range:
    """Queue as many waiting WhatsApp rows as today's capacity allows, in new batches."""
    await allow_long_statements(session, policy)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('vck:whatsapp-tier'))"))
    capacity = await whatsapp_capacity(session, now=now, policy=policy)
    if capacity <= 0:
        return range(0)
    offset = await _next_batch(session, announcement_id)
    result = await session.execute(
        text(RELEASE_SQL),
        {
            "a": announcement_id,
            "n": capacity,
            "offset": offset,
            "bs": policy.batch_size,
            "now": now,
        },
    )
    released = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if not released:
        return range(0)
    return range(offset, offset + -(-released // policy.batch_size))


async def announcements_with_deferred(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.scalars(
        text(
            "SELECT a.id FROM announcements a WHERE a.status = 'published'"
            " AND (a.expires_at IS NULL OR a.expires_at > now())"
            " AND EXISTS (SELECT 1 FROM announcement_deliveries d"
            "             WHERE d.announcement_id = a.id AND d.status = 'deferred')"
        )
    )
    return list(rows)


# --- falling back from WhatsApp ------------------------------------------------------

FALLBACK_SQL = f"""
SELECT
  min(ca.address) FILTER (WHERE ca.channel = 'telegram' AND {_USABLE}) AS tg,
  coalesce(
    min(ca.address) FILTER (WHERE ca.channel = 'sms' AND {_USABLE}),
    CASE WHEN CAST(:phone_fallback AS boolean)
          AND count(ca.id) FILTER (WHERE ca.channel = 'sms') = 0
          AND count(ca.id) FILTER (WHERE NOT ({_USABLE})) = 0
         THEN m.phone END
  ) AS sms_addr,
  bool_and(a.send_sms IS NOT FALSE) AS allow_sms
FROM members m
JOIN announcements a ON a.id = :a
LEFT JOIN channel_addresses ca ON ca.member_id = m.id
WHERE m.id = :m
GROUP BY m.id
"""


@dataclass(frozen=True, slots=True)
class Route:
    channel: str
    provider: str
    address: str


async def fallback_route(
    session: AsyncSession,
    announcement_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    policy: FanoutPolicy,
) -> Route | None:
    """Where a member unreachable on WhatsApp can still be reached: Telegram, else SMS."""
    row = (
        await session.execute(
            text(FALLBACK_SQL),
            {"a": announcement_id, "m": member_id, "phone_fallback": policy.phone_fallback},
        )
    ).one_or_none()
    if row is None:
        return None
    if row.tg:
        return Route("telegram", "telegram", row.tg)
    if row.sms_addr and row.allow_sms:
        return Route("sms", routing.sms_provider(row.sms_addr, policy.dlt_prefixes), row.sms_addr)
    return None
