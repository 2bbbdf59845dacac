"""The grievance sweep: tickets past a deadline climb one level up the tree.

A ticket is breached when it is not acknowledged by its acknowledge-by, or not resolved
by its resolve-by, while its clock runs (no question waits for the member). The sweep
finds them through two partial indexes and moves them all in one statement: each to the
nearest unit above its handling unit that has a grievance handler, to the least-loaded
handler there (several breached tickets going to one unit are dealt out among its
handlers in turn), with that level's own clocks (the priority's settings, never past the
outer bound). A ticket already at the top, with nowhere to climb, is marked breached
once, so the state is told once and not every minute. Every move is an audit row
(``actor_id`` NULL: the sweep).

Then both levels and the member are told, through the outbox, in their own languages:
one query finds where each person can be reached (as core.routing.best_address does,
for many members at once) and one statement writes the notices.

The worker runs :func:`sweep` every minute (notifier/worker.py); ``vck grievances sweep``
runs it once. Nothing commits: the caller commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import effects, notice_templates
from core.channels.base import Channel
from core.config import Settings
from core.i18n import in_language
from core.routing import WHATSAPP_WINDOW
from core.services import grievances as g

_SWEEP = text(
    """
WITH due AS (
    SELECT t.id, t.handling_unit_id, t.assigned_to, t.priority, t.clock_started_at
    FROM grievances t
    WHERE t.waiting_since IS NULL AND t.breached_at IS NULL
      AND ((t.status = 'submitted' AND t.ack_due_at <= :now)
           OR (t.status IN ('submitted', 'acknowledged', 'in_progress')
               AND t.resolve_due_at <= :now))
    ORDER BY t.id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), here AS (
    SELECT d.*, u.path AS path FROM due d JOIN organization_units u ON u.id = d.handling_unit_id
), above AS (
    SELECT DISTINCT subpath(h.path, 0, k) AS path
    FROM here h, generate_series(1, nlevel(h.path) - 1) AS k
), handlers AS MATERIALIZED (
    SELECT u.id AS unit_id, u.path, mu.member_id,
           (SELECT count(*) FROM grievances o WHERE o.assigned_to = mu.member_id
              AND o.status IN ('submitted', 'acknowledged', 'in_progress')) AS load
    FROM above a
    JOIN organization_units u ON u.path = a.path AND u.is_active IS NOT FALSE
    JOIN member_units mu ON mu.unit_id = u.id AND mu.position_id IS NOT NULL
         AND mu.left_at IS NULL
    JOIN positions p ON p.id = mu.position_id AND p.permissions ? :permission
    JOIN members m ON m.id = mu.member_id AND m.status = 'active'
), handler_units AS MATERIALIZED (
    SELECT unit_id, path, array_agg(member_id ORDER BY load, member_id) AS members
    FROM handlers GROUP BY unit_id, path
), target AS (
    SELECT h.id, h.assigned_to AS previous, h.priority, h.clock_started_at,
           up.unit_id AS to_unit, up.members,
           row_number() OVER (PARTITION BY up.unit_id ORDER BY h.id) AS rn
    FROM here h
    LEFT JOIN LATERAL (
        SELECT hu.unit_id, hu.members
        FROM generate_series(nlevel(h.path) - 1, 1, -1) AS k
        JOIN handler_units hu ON hu.path = subpath(h.path, 0, k)
        ORDER BY k DESC LIMIT 1
    ) up ON true
), clock AS (
    SELECT t.*,
           CAST(:now AS timestamptz) + make_interval(
               secs => 3600 * CAST(CAST(:ack AS jsonb) ->> CAST(t.priority AS text) AS float)
           ) AS ack_due,
           CAST(:now AS timestamptz) + make_interval(
               secs => 3600 * CAST(CAST(:resolve AS jsonb) ->> CAST(t.priority AS text) AS float)
           ) AS resolve_due
    FROM target t
), moved AS (
    UPDATE grievances t SET
        handling_unit_id = c.to_unit,
        assigned_to = c.members[1 + (c.rn - 1) % cardinality(c.members)],
        status = 'submitted', acknowledged_at = NULL, breached_at = NULL,
        ack_due_at = c.ack_due,
        resolve_due_at = greatest(c.ack_due, least(c.resolve_due,
            coalesce(c.clock_started_at, CAST(:now AS timestamptz)) + :outer)),
        escalations = t.escalations + 1, updated_at = :now
    FROM clock c WHERE t.id = c.id AND c.to_unit IS NOT NULL
    RETURNING t.id, t.ticket_number, t.member_id, t.category, t.handling_unit_id,
              t.assigned_to, t.ack_due_at, c.previous, 'escalated' AS kind
), stuck AS (
    UPDATE grievances t SET breached_at = :now, updated_at = :now
    FROM clock c WHERE t.id = c.id AND c.to_unit IS NULL
    RETURNING t.id, t.ticket_number, t.member_id, t.category, t.handling_unit_id,
              t.assigned_to, t.ack_due_at, c.previous, 'breached' AS kind
), changed AS (
    SELECT * FROM moved UNION ALL SELECT * FROM stuck
), audit AS (
    INSERT INTO grievance_events (grievance_id, kind, actor_id, unit_id, assigned_to, at)
    SELECT id, kind, NULL, handling_unit_id, assigned_to, :now FROM changed
)
SELECT c.*, u.name AS unit_name, u.metadata ->> 'name_ta' AS unit_name_ta FROM changed c
LEFT JOIN organization_units u ON u.id = c.handling_unit_id
"""
)

_REACH = text(
    """
WITH ids AS (SELECT DISTINCT unnest(CAST(:ids AS uuid[])) AS id),
pick AS (
    SELECT DISTINCT ON (a.member_id) a.member_id, a.channel, a.address
    FROM channel_addresses a JOIN ids ON ids.id = a.member_id
    WHERE a.channel <> 'console' AND a.opted_out_at IS NULL AND a.consent_refused_at IS NULL
      AND (a.channel <> 'whatsapp' OR a.last_inbound_at >= :since)
    ORDER BY a.member_id, a.last_inbound_at DESC NULLS LAST, a.created_at
),
top AS (
    SELECT DISTINCT ON (a.member_id) a.member_id, a.channel, a.address, a.last_inbound_at
    FROM channel_addresses a JOIN ids ON ids.id = a.member_id
    WHERE a.channel <> 'console' AND a.opted_out_at IS NULL AND a.consent_refused_at IS NULL
    ORDER BY a.member_id, a.last_inbound_at DESC NULLS LAST, a.created_at
)
SELECT m.id, m.language, p.channel, p.address, m.phone,
       CASE WHEN t.channel = 'whatsapp'
                 AND (t.last_inbound_at IS NULL OR t.last_inbound_at < :since)
            THEN t.address END AS wa_closed,
       NOT EXISTS (SELECT 1 FROM channel_addresses x WHERE x.member_id = m.id
                   AND (x.channel = 'sms' OR x.opted_out_at IS NOT NULL
                        OR x.consent_refused_at IS NOT NULL)) AS phone_ok
FROM members m JOIN ids ON ids.id = m.id
LEFT JOIN pick p ON p.member_id = m.id
LEFT JOIN top t ON t.member_id = m.id
"""
)
_NOTICES = text(
    "INSERT INTO outbox (kind, payload, available_at)"
    " SELECT :kind, unnest(CAST(:payloads AS jsonb[])), now()"
)


@dataclass(frozen=True, slots=True)
class Reach:
    language: str
    channel: str | None
    address: str | None
    wa_closed: str | None = None
    """Their WhatsApp address when it is their best channel but its window is closed
    (core.routing.closed_whatsapp): a template may go there."""


async def reach_many(
    session: AsyncSession, member_ids: Iterable[uuid.UUID], *, now: datetime
) -> dict[uuid.UUID, Reach]:
    """Where each member can be told something now, and their language: the rules of
    core.routing.best_address, for many members in one query."""
    ids = [str(m) for m in member_ids]
    if not ids:
        return {}
    rows = await session.execute(_REACH, {"ids": ids, "since": now - WHATSAPP_WINDOW})
    found = {}
    for r in rows:
        channel, address = r.channel, r.address
        if channel is None and r.phone_ok and r.phone:
            channel, address = "sms", r.phone
        found[r.id] = Reach(r.language or "ta", channel, address, r.wa_closed)
    return found


@dataclass(frozen=True, slots=True)
class Swept:
    escalated: int
    breached_at_top: int
    notices: int


async def sweep(
    session: AsyncSession, settings: Settings, *, now: datetime, limit: int = 5000
) -> Swept:
    """Escalate up to ``limit`` breached tickets and write their notices."""
    # The plan's estimates are far off (ltree paths); JIT compiling it costs seconds.
    await session.execute(text("SET LOCAL jit = off"))
    rows = (
        await session.execute(
            _SWEEP,
            {
                "now": now,
                "limit": limit,
                "permission": g.HANDLE,
                "ack": json.dumps(settings.grievance_ack_hours),
                "resolve": json.dumps(settings.grievance_resolve_hours),
                "outer": timedelta(days=settings.grievance_max_days),
            },
        )
    ).all()
    if not rows:
        return Swept(0, 0, 0)
    people = {p for r in rows for p in (r.member_id, r.assigned_to, r.previous) if p is not None}
    reach = await reach_many(session, people, now=now)
    names = {c.id: c for c in g.categories(settings)}
    payloads: list[str] = []
    templates = (
        await notice_templates.approved(session, notice_templates.GRIEVANCE_UPDATE)
        if any(r.wa_closed for r in reach.values())
        else {}
    )

    def say(member_id: uuid.UUID | None, msgid: str, **fields: object) -> None:
        found = reach.get(member_id) if member_id is not None else None
        if found is None:
            return
        values = {
            k: v.get(found.language) if isinstance(v, g.Both) else v for k, v in fields.items()
        }
        body = in_language(found.language, msgid).format(**values)
        fallback = (
            (Channel(found.channel), found.address) if found.channel and found.address else None
        )
        named = g.update_template(found.language, msgid, values)
        template = notice_templates.pick(templates, found.language) if named else None
        if named is not None and template is not None and found.wa_closed:
            payload = notice_templates.payload(
                found.wa_closed, body, template, named.fields, fallback
            )
        elif fallback is not None:
            payload = effects.notice(*fallback, body)
        else:
            return
        payloads.append(json.dumps(payload))

    escalated = 0
    for r in rows:
        unit = g.Both(r.unit_name or "-", r.unit_name_ta)
        if r.kind == "breached":
            say(r.assigned_to, g.BREACHED_TOP, number=r.ticket_number)
            continue
        escalated += 1
        found = names.get(r.category)
        category = g.Both(found.en, found.ta) if found else g.Both(r.category, None)
        say(
            r.assigned_to,
            g.ESCALATED_NEW,
            number=r.ticket_number,
            category=category,
            due=g.due_text(r.ack_due_at),
        )
        if r.previous != r.assigned_to:
            say(r.previous, g.ESCALATED_OLD, number=r.ticket_number, unit=unit)
        say(r.member_id, g.ESCALATED_MEMBER, number=r.ticket_number, unit=unit)
    if payloads:
        await session.execute(
            _NOTICES,
            {
                "kind": effects.Kind.NOTICE.value,
                "payloads": payloads,  # the outbox's sweep sends them at once
            },
        )
    return Swept(escalated, len(rows) - escalated, len(payloads))
