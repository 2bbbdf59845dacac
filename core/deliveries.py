"""Following an announcement's deliveries: provider status callbacks move rows forward,
and the report officials ask for.

Status only moves forward: queued → sending → sent → delivered → read; failed is final
and is never taken back. Callbacks arrive out of order (``delivered`` before ``sent``,
or before the sender recorded the message id at all): an older status never overwrites
a newer one, and callbacks that come before the sender recorded the message id are
applied by the sender from ``message_status_events`` (:func:`reconcile_early`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.announcements import Content, load_content, sms_preview
from core.channels.base import Outcome
from core.channels.errors import DeliveryStatus
from core.channels.outcomes import status_outcome
from core.config import Settings
from core.delivery_policy import Decision, decide
from core.fanout import FanoutPolicy, fallback_route
from core.services import officials

FORWARD = ("sent", "delivered", "read")
_NORMAL = {
    DeliveryStatus.QUEUED: None,
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.READ: "read",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.UNDELIVERED: "failed",
}


def normalise(status: DeliveryStatus | str) -> str | None:
    """A status (an adapter's :class:`DeliveryStatus`, or its stored value) as a delivery
    row's; None when it says nothing new (queued)."""
    return _NORMAL[DeliveryStatus(status)]


@dataclass(frozen=True, slots=True)
class StatusApplied:
    matched: bool
    """A delivery row carries this provider message id."""
    changed: bool
    requeued: tuple[uuid.UUID, int] | None = None
    """(announcement, batch) to send again: WhatsApp said "not reachable" or "outside
    the window" and the row now waits for another channel or the template. The caller
    enqueues ``Jobs.enqueue_batch`` (core.jobs) after commit (the worker's sweep would anyway)."""


_FORWARD_SQL = """
UPDATE announcement_deliveries SET
  status = CAST(:new AS delivery_status),
  sent_at = coalesce(sent_at, :now),
  delivered_at = CASE WHEN :new IN ('delivered', 'read') THEN coalesce(delivered_at, :now)
                      ELSE delivered_at END,
  read_at = CASE WHEN :new = 'read' THEN coalesce(read_at, :now) ELSE read_at END
WHERE provider = :provider AND provider_message_id = :pmid
  AND status IN ('queued', 'sending', 'sent', 'delivered')
  AND status < CAST(:new AS delivery_status)
"""


async def apply_status(
    session: AsyncSession,
    provider: str,
    provider_message_id: str,
    status: DeliveryStatus | str,
    error_code: str | None,
    now: datetime,
    *,
    error_reason: str | None = None,
    outcome: Outcome | None = None,
    policy: FanoutPolicy,
) -> StatusApplied:
    """Apply one provider status callback (Twilio, the DLT provider) to the delivery row
    that carries ``provider_message_id``. Forward only; out-of-order callbacks never move
    a row back. Call it after storing the callback in ``message_status_events``.
    ``outcome`` is the adapter's reading of ``error_code`` (asked of it when not given);
    core.delivery_policy decides what a failure does."""
    new = normalise(status)
    row = (
        await session.execute(
            text(
                "SELECT announcement_id, member_id, batch, channel, status, via_template"
                " FROM announcement_deliveries"
                " WHERE provider = :p AND provider_message_id = :pmid FOR UPDATE"
            ),
            {"p": provider, "pmid": provider_message_id},
        )
    ).one_or_none()
    if row is None:
        return StatusApplied(matched=False, changed=False)
    if new is None:
        return StatusApplied(matched=True, changed=False)
    if new in FORWARD:
        result = await session.execute(
            text(_FORWARD_SQL),
            {"new": new, "now": now, "provider": provider, "pmid": provider_message_id},
        )
        return StatusApplied(True, bool(result.rowcount))  # type: ignore[attr-defined]
    if str(row.status) not in ("sending", "sent"):
        return StatusApplied(True, False)  # delivered, read or final already: keep it
    decision = decide(
        outcome or status_outcome(provider, error_code),
        row.channel,
        attempts=0,
        max_attempts=None,  # a callback ends its message: nothing resends it as is
        via_template=row.via_template,
    )
    if decision is Decision.AS_TEMPLATE:
        await _requeue(session, row, now, via_template=True, code=error_code)
        return StatusApplied(True, True, (row.announcement_id, row.batch))
    if decision is Decision.REROUTE:
        route = await fallback_route(session, row.announcement_id, row.member_id, policy=policy)
        if route is not None:
            await _requeue(session, row, now, route=route, code=error_code)
            return StatusApplied(True, True, (row.announcement_id, row.batch))
    # Failed, or opted out (core.services.status records the opt-out itself).
    await session.execute(
        text(
            "UPDATE announcement_deliveries SET status = 'failed', failed_at = :now,"
            " error_code = :code, error_reason = coalesce(:reason, error_reason)"
            " WHERE announcement_id = :a AND member_id = :m"
        ),
        {
            "now": now,
            "code": error_code,
            "reason": error_reason,
            "a": row.announcement_id,
            "m": row.member_id,
        },
    )
    return StatusApplied(True, True)


async def _requeue(
    session: AsyncSession,
    row: Any,
    now: datetime,
    *,
    code: str | None,
    via_template: bool = False,
    route: Any = None,
) -> None:
    values: dict[str, Any] = {"a": row.announcement_id, "m": row.member_id, "code": code}
    if route is not None:
        sets = (
            "channel = :channel, provider = :provider, address = :address,"
            " via_template = false, route_reason = 'whatsapp_unreachable'"
        )
        values |= {"channel": route.channel, "provider": route.provider, "address": route.address}
    else:
        sets = "via_template = true, whatsapp_tier_at = coalesce(whatsapp_tier_at, :now)"
        values["now"] = now
    await session.execute(
        text(
            f"UPDATE announcement_deliveries SET {sets}, status = 'queued', attempts = 0,"
            " provider_message_id = NULL, not_before = NULL, error_code = :code"
            " WHERE announcement_id = :a AND member_id = :m"
        ),
        values,
    )


_KEY = re.compile(r"^vck:(?P<a>[0-9a-f-]{36}):(?P<m>[0-9a-f-]{36}):(?P<channel>[a-z]+):[ft]$")


async def settle_reported(
    session: AsyncSession, provider: str, custom_field: str | None, provider_message_id: str
) -> bool:
    """A DLT delivery report for a message we never recorded: when its ``CustomField``
    (our idempotency key, ``vck:<announcement>:<member>:<channel>:<kind>``) names a
    delivery left ``uncertain`` by a stopped worker (notifier/reconcile.py), the report
    settles it: the row takes the message id (``reconciliation = 'reported'``) and the
    caller applies the report to it. True when a row was settled."""
    found = _KEY.match(custom_field or "")
    if found is None:
        return False
    result = await session.execute(
        text(
            "UPDATE announcement_deliveries SET status = 'sent', provider_message_id = :pmid,"
            " reconciliation = 'reported', sent_at = coalesce(sent_at, now())"
            " WHERE announcement_id = CAST(:a AS uuid) AND member_id = CAST(:m AS uuid)"
            " AND provider = :p AND channel = :c AND status = 'uncertain'"
        ),
        {"pmid": provider_message_id, "a": found["a"], "m": found["m"], "p": provider,
         "c": found["channel"]},
    )  # fmt: skip
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reconcile_early(
    session: AsyncSession,
    provider: str,
    provider_message_ids: list[str],
    now: datetime,
    *,
    policy: FanoutPolicy,
) -> int:
    """Apply callbacks stored before the sender recorded these message ids, with the
    configured ``policy`` (the fallback's DLT prefixes and phone fallback)."""
    if not provider_message_ids:
        return 0
    events = (
        await session.execute(
            text(
                "SELECT provider_message_id, status, error_code FROM message_status_events"
                " WHERE provider = :p AND provider_message_id = ANY(:ids)"
                " ORDER BY received_at"
            ),
            {"p": provider, "ids": provider_message_ids},
        )
    ).all()
    for event in events:
        await apply_status(session, provider, event[0], event[1], event[2], now, policy=policy)
    return len(events)


# --- the report ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DistrictCount:
    code: str
    name: str
    name_ta: str | None
    total: int
    delivered: int
    """Delivered or read."""
    failed: int
    pending: int
    """Queued, being sent, or waiting for WhatsApp capacity."""


@dataclass(frozen=True, slots=True)
class Report:
    announcement_id: uuid.UUID
    title: str
    unit_code: str
    unit_name: str
    status: str
    publish_at: datetime | None
    fanned_out_at: datetime | None
    total: int
    by_status: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    """channel → status → rows."""
    by_district: tuple[DistrictCount, ...]
    failures: tuple[tuple[str, str, int], ...]
    """The commonest (error code, reason, rows)."""
    sms_parts: int
    """SMS parts sent so far (billing is per part)."""
    sms_cost_paise: int
    sms_pending: int
    sms_estimated_total_paise: int
    """Spent so far plus the estimate for SMS not yet sent."""
    whatsapp_rerouted: int
    """Went by Telegram or SMS because WhatsApp's daily tier was full."""
    whatsapp_waiting: int
    """Wait for WhatsApp capacity the next day."""
    whatsapp_fallback: int
    """WhatsApp said "not reachable": went by Telegram or SMS instead."""
    unit_name_ta: str | None = None
    uncertain: int = 0
    """Left in flight by a stopped worker and the provider could not say whether it got
    them (Telegram never can): may not have arrived; not sent again."""
    resent: int = 0
    """Left in flight by a stopped worker, the provider had no record, so sent again:
    arrived twice if the first request was still on its way."""
    settled: int = 0
    """Left in flight by a stopped worker, and the provider had them: not sent again."""

    @property
    def in_doubt(self) -> int:
        """Every message a stopped worker left in doubt: uncertain, or resent."""
        return self.uncertain + self.resent

    def count(self, *statuses: str) -> int:
        return sum(self.by_status.get(s, 0) for s in statuses)


_DISTRICT_SQL = """
SELECT dp.path AS district, d.status, count(*) AS n
FROM announcement_deliveries d
LEFT JOIN LATERAL (
  SELECT CASE WHEN nlevel(u.path) >= 2 THEN subpath(u.path, 0, 2) ELSE u.path END AS path
  FROM member_units mu JOIN organization_units u ON u.id = mu.unit_id
  WHERE mu.member_id = d.member_id AND mu.left_at IS NULL AND u.path <@ CAST(:scope AS ltree)
  ORDER BY mu.is_primary DESC NULLS LAST, nlevel(u.path) DESC
  LIMIT 1
) dp ON true
WHERE d.announcement_id = :a
GROUP BY 1, 2
"""


async def report(
    session: AsyncSession, announcement_id: uuid.UUID, settings: Settings
) -> Report | None:
    """Counts by status, channel and district; SMS parts and cost; WhatsApp tier overflow."""
    head = (
        await session.execute(
            text(
                "SELECT a.title, a.title_ta, a.status, a.publish_at, a.fanned_out_at,"
                " u.code, u.name, u.metadata->>'name_ta' AS name_ta, u.path FROM announcements a"
                " JOIN organization_units u ON u.id = a.unit_id WHERE a.id = :a"
            ),
            {"a": announcement_id},
        )
    ).one_or_none()
    if head is None:
        return None
    rows = (
        await session.execute(
            text(
                "SELECT channel, status::text, route_reason, count(*),"
                " coalesce(sum(sms_parts), 0) FROM announcement_deliveries"
                " WHERE announcement_id = :a GROUP BY 1, 2, 3"
            ),
            {"a": announcement_id},
        )
    ).all()
    by_status: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    sms_parts = sms_pending = rerouted = waiting = fallback = 0
    for channel, status, reason, n, parts in rows:
        by_status[status] = by_status.get(status, 0) + n
        per = by_channel.setdefault(channel, {})
        per[status] = per.get(status, 0) + n
        if channel == "sms":
            sms_parts += int(parts)
            if status in ("queued", "sending"):
                sms_pending += n
        if reason == "whatsapp_tier":
            if status == "deferred":
                waiting += n
            else:
                rerouted += n
        elif reason == "whatsapp_unreachable":
            fallback += n
    settled_rows = (
        await session.execute(
            text(
                "SELECT reconciliation, count(*) FROM announcement_deliveries"
                " WHERE announcement_id = :a AND reconciliation IS NOT NULL GROUP BY 1"
            ),
            {"a": announcement_id},
        )
    ).all()
    settled: dict[str, int] = {str(how): int(n) for how, n in settled_rows}
    failures = (
        await session.execute(
            text(
                "SELECT coalesce(error_code, ''), coalesce(error_reason, ''), count(*)"
                " FROM announcement_deliveries WHERE announcement_id = :a"
                " AND status IN ('failed', 'skipped') GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5"
            ),
            {"a": announcement_id},
        )
    ).all()
    content = await load_content(session, announcement_id)
    per_sms = _sms_estimate(content, settings)
    cost = sms_parts * settings.sms_cost_per_part_paise
    return Report(
        announcement_id=announcement_id,
        title=head.title_ta or head.title,
        unit_code=head.code,
        unit_name=head.name,
        unit_name_ta=head.name_ta,
        status=str(head.status),
        publish_at=head.publish_at,
        fanned_out_at=head.fanned_out_at,
        total=sum(by_status.values()),
        by_status=by_status,
        by_channel=by_channel,
        by_district=await _districts(session, announcement_id, head.path),
        failures=tuple((c, r, n) for c, r, n in failures),
        sms_parts=sms_parts,
        sms_cost_paise=cost,
        sms_pending=sms_pending,
        sms_estimated_total_paise=cost + sms_pending * per_sms,
        whatsapp_rerouted=rerouted,
        whatsapp_waiting=waiting,
        whatsapp_fallback=fallback,
        uncertain=by_status.get("uncertain", 0),
        resent=settled.get("resent", 0),
        settled=sum(settled.get(k, 0) for k in ("found", "reported", "late")),
    )


VIEW_REPORTS = "view_reports"


async def report_for(
    session: AsyncSession,
    official_member_id: uuid.UUID,
    announcement_id: uuid.UUID,
    settings: Settings,
) -> Report | None:
    """The report, for an official who wrote the announcement or may view reports on
    its unit (or above it); None otherwise, and for an unknown announcement."""
    row = (
        await session.execute(
            text(
                "SELECT a.created_by, u.path::text FROM announcements a"
                " JOIN organization_units u ON u.id = a.unit_id WHERE a.id = :a"
            ),
            {"a": announcement_id},
        )
    ).one_or_none()
    if row is None:
        return None
    allowed = row[0] == official_member_id or await officials.can(
        session, official_member_id, VIEW_REPORTS, row[1]
    )
    return await report(session, announcement_id, settings) if allowed else None


def _sms_estimate(content: Content | None, settings: Settings) -> int:
    if content is None:
        return 0
    text_, _ = content.sms("ta")
    return sms_preview(text_, settings).cost_paise


async def _districts(
    session: AsyncSession, announcement_id: uuid.UUID, scope: str
) -> tuple[DistrictCount, ...]:
    if scope.count(".") >= 1:  # a district or below: every row is in one district
        district = ".".join(scope.split(".")[:2])
        rows = (
            await session.execute(
                text(
                    "SELECT CAST(:d AS text), status::text, count(*) FROM announcement_deliveries"
                    " WHERE announcement_id = :a GROUP BY 2"
                ),
                {"a": announcement_id, "d": district},
            )
        ).all()
    else:
        rows = (
            await session.execute(text(_DISTRICT_SQL), {"a": announcement_id, "scope": scope})
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for path, status, n in rows:
        per = counts.setdefault(str(path) if path else "", {})
        per[str(status)] = per.get(str(status), 0) + n
    names = {
        str(path): (code, name, name_ta)
        for path, code, name, name_ta in (
            await session.execute(
                text(
                    "SELECT path::text, code, name, metadata->>'name_ta' FROM organization_units"
                    " WHERE path::text = ANY(:paths)"
                ),
                {"paths": [p for p in counts if p]},
            )
        ).all()
    }
    out = []
    for path, per in counts.items():
        code, name, name_ta = names.get(path, (path or "?", path or "?", None))
        out.append(
            DistrictCount(
                code=code,
                name=name,
                name_ta=name_ta,
                total=sum(per.values()),
                delivered=per.get("delivered", 0) + per.get("read", 0),
                failed=per.get("failed", 0),
                pending=sum(per.get(s, 0) for s in ("queued", "sending", "deferred")),
            )
        )
    return tuple(sorted(out, key=lambda d: (-d.total, d.code)))
