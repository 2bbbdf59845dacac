"""The announcement fan-out: who receives it, on which channel, in which batch.

:func:`publish` computes and writes every delivery row of an announcement in one
``INSERT … SELECT`` (:data:`INSERT_SQL`): a row for each active member with an active
unit inside the announcement's unit, read from ``member_reach`` (one narrow row per
member, kept by triggers: migration 0017) with ``paths <@ scope``, with their channel
chosen in SQL:

1. WhatsApp, when they have a WhatsApp address that is not opted out — free text inside
   the 24-hour window (that address wrote in the last 24 h), else the approved template, which
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
batch size), so the caller enqueues one send job per batch without another scan. A
large fan-out is written in ``parts`` member ranges at once, one connection each
(:func:`_write_split`): the write is bound by PostgreSQL's CPU, and one statement uses
one core.

An announcement is fanned out once: :func:`publish` locks it and writes rows only while
it is still scheduled, in the transaction that marks it published (the primary key
(announcement, member) would refuse a second row; no ``ON CONFLICT`` check is needed,
which spares the state-wide insert about a third of its time).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
    parts: int = 2
    """Member ranges written at once on their own connections (a split fan-out); 1
    writes every row in the caller's transaction."""
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
SELECT r.member_id, r.language, r.wa, w.id IS NOT NULL AS wa_open, r.tg,
  coalesce(r.sms, CASE WHEN CAST(:phone_fallback AS boolean) THEN r.phone END) AS sms_addr
FROM member_reach r
LEFT JOIN channel_addresses w
  ON w.channel = 'whatsapp' AND w.address = r.wa
 AND w.last_inbound_at >= CAST(:window_start AS timestamptz)
WHERE r.paths <@ CAST(:scope AS ltree)
"""
"""Every active member with an active unit inside ``:scope``, one row each, with their
usable addresses (``member_reach``, kept by triggers: migration 0017) and whether the
WhatsApp address they would get wrote in the last 24 hours."""

_IN_RANGE = (
    " AND r.member_id >= CAST(:lo AS uuid)"
    " AND (r.member_id < CAST(:hi AS uuid) OR CAST(:last AS boolean))"
)

_CANDIDATES_SQL = f"""
recent AS MATERIALIZED ({whatsapp_tier.RECENT_MEMBERS_SQL}),
candidates AS (
  SELECT a.*, a.wa IS NOT NULL AND NOT a.wa_open AS wa_template,
         r.member_id IS NOT NULL AS wa_counted
  FROM ({AUDIENCE_SQL.rstrip()}{_IN_RANGE}) a
  LEFT JOIN recent r ON r.member_id = a.member_id
)"""
"""A member range's audience, with who would take a WhatsApp tier slot: a template
(outside the window) to a member who holds none yet."""

_ROW_COLUMNS = (
    "member_id, batch, channel, provider, address, language, via_template, route_reason,"
    " status, whatsapp_tier_at"
)

INSERT_SQL = f"""
INSERT INTO announcement_deliveries (announcement_id, queued_at, {_ROW_COLUMNS})
WITH {_CANDIDATES_SQL},
ranked AS (
  SELECT k.*,
         CAST(:tier_offset AS bigint)
         + count(*) FILTER (WHERE k.wa_template AND NOT k.wa_counted)
             OVER (ORDER BY k.member_id ROWS UNBOUNDED PRECEDING) AS wa_rank
  FROM candidates k
),
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
SELECT CAST(:announcement_id AS uuid), CAST(:now AS timestamptz), r.member_id,
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
"""Every delivery row of a member range, in one ``INSERT … SELECT``: tier ranks and batch
numbers run over the range in member order, after ``:tier_offset`` slots and
``:batch_offset`` batches taken by the ranges before it (0 for a fan-out in one range)."""

COUNTS_SQL = f"""
WITH {_CANDIDATES_SQL}
SELECT
  count(*) FILTER (WHERE wa IS NOT NULL OR tg IS NOT NULL
                   OR (CAST(:allow_sms AS boolean) AND sms_addr IS NOT NULL)) AS rows,
  count(*) FILTER (WHERE wa_template AND NOT wa_counted) AS new_templates
FROM candidates
"""
"""What the ranges after this one need: the rows it writes at most (deferred ones
included), and its members who would take a new WhatsApp tier slot."""

SPLIT_SIZE_SQL = """
SELECT count(*) FROM (
  SELECT 1 FROM member_reach WHERE paths <@ CAST(:scope AS ltree) LIMIT :n) s
"""


FIRST_ID, LAST_ID = uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)

QUANTILES_SQL = """
SELECT percentile_disc(CAST(:q AS float8[])) WITHIN GROUP (ORDER BY member_id)
FROM member_reach {sample} WHERE paths <@ CAST(:scope AS ltree)
"""
"""Member ids that cut the scope into equal ranges, from a 1 % sample of its rows
(the same rows each time), or from every row when the sample finds none."""


async def member_ranges(
    session: AsyncSession, scope: str, parts: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``parts`` contiguous ranges of member ids in scope, [lo, hi) in uuid order, holding
    about as many members each (ids need not be spread evenly over the uuid space: the
    synthetic members' are not); the last one includes ``hi``."""
    q = [i / parts for i in range(1, parts)]
    cuts = None
    for sample in ("TABLESAMPLE BERNOULLI (1) REPEATABLE (0)", ""):
        cuts = await session.scalar(
            text(QUANTILES_SQL.format(sample=sample)), {"q": q, "scope": scope}
        )
        if cuts:
            break
    return list(itertools.pairwise([FIRST_ID, *(cuts or []), LAST_ID]))


def _parts_for(session: AsyncSession, policy: FanoutPolicy) -> int:
    """How many connections a split may take: the pool keeps the caller's."""
    if policy.parts <= 1 or not isinstance(session.bind, AsyncEngine):
        return 1
    pool_size = getattr(session.bind.pool, "size", lambda: 0)()
    return max(1, min(policy.parts, pool_size - 1))


def _batches(rows: int, policy: FanoutPolicy) -> int:
    return -(-rows // policy.batch_size)


async def _write_split(
    session: AsyncSession,
    announcement_id: uuid.UUID,
    parts: int,
    params: dict[str, Any],
    policy: FanoutPolicy,
) -> tuple[int, int]:
    """Write the rows in ``parts`` member ranges, each on its own connection and in its
    own transaction, at once; returns (rows written, batches numbered).

    Each range first counts what it may write and the tier slots it would take, waits
    for the others' counts, then ranks and numbers its rows after ranges 0…*n*−1. Every
    range reads the same snapshot, exported by the caller's transaction: what a range
    counted is what it writes, whatever commits meanwhile. The caller holds the
    announcement's row lock (FOR UPDATE) and the tier lock and marks it published only
    after every range committed. A crash before that leaves the announcement scheduled
    with some ranges written: the next attempt deletes them (none was sent: batches are
    enqueued only after publishing) and writes all again."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    cut = await member_ranges(session, params["scope"], parts)
    parts = len(cut)  # one when the scope has no member to cut at
    ranges = [
        {**params, "lo": lo, "hi": hi, "last": i == parts - 1} for i, (lo, hi) in enumerate(cut)
    ]
    counted: list[Any] = [None] * parts
    everyone_counted = asyncio.Barrier(parts)
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(engine.connect()) for _ in range(parts)]
        async with connections[0].begin():  # what a crashed attempt left
            await allow_long_statements(connections[0], policy)
            await connections[0].execute(
                text("DELETE FROM announcement_deliveries WHERE announcement_id = :a"),
                {"a": announcement_id},
            )
        snapshot = await session.scalar(text("SELECT pg_export_snapshot()"))

        async def write(i: int, conn: AsyncConnection) -> int:
            part = ranges[i]
            try:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    await conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                    await allow_long_statements(conn, policy)
                    counted[i] = (await conn.execute(text(COUNTS_SQL), part)).one()
                    await everyone_counted.wait()
                    part["tier_offset"] = sum(int(c.new_templates) for c in counted[:i])
                    part["batch_offset"] = sum(_batches(int(c.rows), policy) for c in counted[:i])
                    result = await conn.execute(text(INSERT_SQL), part)
                    return int(result.rowcount or 0)
            except BaseException:
                await everyone_counted.abort()  # the others stop waiting for this count
                raise

        # Every range ends before this returns (none writes on after a failure).
        results = await asyncio.gather(
            *(write(i, c) for i, c in enumerate(connections)), return_exceptions=True
        )
    written = [r for r in results if isinstance(r, int)]
    if len(written) < parts:
        failures = [r for r in results if isinstance(r, BaseException)]
        raise next(
            (f for f in failures if not isinstance(f, asyncio.BrokenBarrierError)), failures[0]
        )
    return sum(written), sum(_batches(int(c.rows), policy) for c in counted)


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


async def allow_long_statements(conn: AsyncConnection | AsyncSession, policy: FanoutPolicy) -> None:
    """Raise the process's short statement and lock timeouts (core.db.Timeouts) for
    this transaction only — a state-wide fan-out writes about a million rows in one
    statement, and a second publish waits for the first one's locks meanwhile — with
    the fan-out's sort memory and no JIT (it compiles longer than it saves here)."""
    bound = f"{max(1, round(policy.statement_timeout_seconds * 1000))}ms"
    await conn.execute(
        text(
            "SELECT set_config('statement_timeout', :t, true),"
            " set_config('lock_timeout', :t, true),"
            " set_config('work_mem', :w, true), set_config('jit', 'off', true)"
        ),
        {"t": bound, "w": policy.work_mem},
    )


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
    params: dict[str, Any] = {
        "announcement_id": announcement_id,
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
    result = await session.execute(
        text(INSERT_SQL),
        {
            **params,
            "lo": FIRST_ID,
            "hi": LAST_ID,
            "last": True,
            "tier_offset": 0,
            "batch_offset": 0,
        },
    )
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
