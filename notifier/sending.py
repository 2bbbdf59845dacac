"""Sending one batch of an announcement: claim, pace, send, record.

For each token bucket the batch touches, a pump takes tokens (as many as are free, up
to ``group_max``), then for exactly that many rows:

1. **claim** them in one statement: ``queued`` → ``sending`` (attempts + 1, the
   attempt's stamp in ``sending_at``), unless the address opted out or the member is no
   longer active (→ ``skipped``). The claim is committed *before* the provider is called;
2. **send** them concurrently, each with its idempotency key;
3. **record** every outcome in one statement, fenced on the attempt's stamp: sent /
   delivered (Telegram) / back to queued with a backoff / failed with the provider's
   code / re-routed.

A row found in ``sending`` whose attempt is older than
:func:`notifier.reconcile.settle_after` was left by a worker that died, lost its lease,
Redis or PostgreSQL, or hit the job timeout, between claiming and recording. Its
message may or may not have gone, and real providers do not honour idempotency keys:
it is **not** sent again blindly but settled with the provider where the provider can
be asked (notifier/reconcile.py), else marked ``uncertain``. See docs/notifier.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.announcements import Content
from core.channels.base import Channel, SendError, SendResult
from core.db import transaction
from core.deliveries import reconcile_early
from core.delivery_policy import Decision, decide
from core.fanout import fallback_route
from core.routing import bucket_kind
from core.services import addresses
from notifier import reconcile
from notifier.bootstrap import Capacity, Deps
from notifier.reconcile import settle_after
from notifier.senders import Outgoing, send_delivery

log = logging.getLogger(__name__)

PENDING_SQL = """
SELECT member_id, channel, provider, status::text AS status FROM announcement_deliveries
WHERE announcement_id = :a AND batch = :b
  AND ((status = 'sending' AND sending_at <= :settled)
       OR (status = 'queued' AND (not_before IS NULL OR not_before <= :now)))
ORDER BY member_id
"""

NEXT_RETRY_SQL = """
SELECT min(CASE WHEN status = 'queued' THEN coalesce(not_before, :now)
                ELSE coalesce(sending_at, :now) + CAST(:grace AS interval) END)
FROM announcement_deliveries
WHERE announcement_id = :a AND batch = :b AND status IN ('queued', 'sending')
"""

CLAIM_SQL = """
WITH c AS (
  SELECT d.member_id, d.status AS was,
    d.status = 'queued' AND EXISTS (
      SELECT 1 FROM channel_addresses ca
      WHERE ca.channel = d.channel AND ca.address = d.address
        AND (ca.opted_out_at IS NOT NULL OR ca.consent_refused_at IS NOT NULL)) AS stopped,
    (d.status = 'queued' OR m.erased_at IS NOT NULL)
      AND m.status IS DISTINCT FROM 'active' AS inactive,
    m.erased_at IS NOT NULL AS erased
  FROM announcement_deliveries d LEFT JOIN members m ON m.id = d.member_id
  WHERE d.announcement_id = :a AND d.member_id = ANY(CAST(:ids AS uuid[]))
    AND d.status = 'queued'
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE announcement_deliveries d SET
  status = CAST(CASE WHEN c.stopped OR c.inactive THEN 'skipped' ELSE 'sending' END
                AS delivery_status),
  attempts = d.attempts + CASE WHEN c.stopped OR c.inactive THEN 0 ELSE 1 END,
  sending_at = :now,
  error_reason = CASE WHEN c.stopped THEN 'opted_out' WHEN c.inactive THEN 'member_inactive'
                      ELSE d.error_reason END,
  failed_at = CASE WHEN c.stopped OR c.inactive THEN :now ELSE d.failed_at END,
  address = CASE WHEN c.erased THEN '' ELSE d.address END
FROM c
WHERE d.announcement_id = :a AND d.member_id = ANY(CAST(:ids AS uuid[]))
  AND d.member_id = c.member_id
RETURNING d.member_id, d.status::text AS status, d.channel, d.provider, d.address, d.language,
  d.via_template, d.attempts, d.sending_at
"""

RECORD_SQL = """
UPDATE announcement_deliveries d SET
  status = CAST(v.status AS delivery_status),
  -- An attempt another job had marked uncertain, recorded by its own sender after all.
  reconciliation = CASE WHEN d.status = 'uncertain' THEN 'late' ELSE d.reconciliation END,
  provider_message_id = v.pmid,
  error_code = v.code,
  error_reason = v.reason,
  sms_parts = coalesce(v.parts, d.sms_parts),
  not_before = v.not_before,
  channel = v.channel,
  provider = v.provider,
  -- A member erased while this was in flight keeps no address (privacy.erase_member).
  address = CASE WHEN EXISTS (SELECT 1 FROM members m
                              WHERE m.id = d.member_id AND m.erased_at IS NOT NULL)
                 THEN '' ELSE v.address END,
  via_template = v.via_template,
  route_reason = coalesce(v.route_reason, d.route_reason),
  attempts = CASE WHEN v.reset THEN 0 ELSE d.attempts END,
  whatsapp_tier_at = CASE WHEN v.tier THEN coalesce(d.whatsapp_tier_at, :now)
                          ELSE d.whatsapp_tier_at END,
  sent_at = CASE WHEN v.status IN ('sent', 'delivered') THEN :now ELSE d.sent_at END,
  delivered_at = CASE WHEN v.status = 'delivered' THEN :now ELSE d.delivered_at END,
  failed_at = CASE WHEN v.status IN ('failed', 'skipped') THEN :now ELSE d.failed_at END
FROM unnest(
  CAST(:member_id AS uuid[]), CAST(:status AS text[]), CAST(:pmid AS text[]),
  CAST(:code AS text[]), CAST(:reason AS text[]), CAST(:parts AS smallint[]),
  CAST(:not_before AS timestamptz[]), CAST(:channel AS text[]), CAST(:provider AS text[]),
  CAST(:address AS text[]), CAST(:via_template AS boolean[]), CAST(:route_reason AS text[]),
  CAST(:reset AS boolean[]), CAST(:tier AS boolean[]), CAST(:stamp AS timestamptz[])
) AS v(member_id, status, pmid, code, reason, parts, not_before, channel, provider, address,
       via_template, route_reason, reset, tier, stamp)
WHERE d.announcement_id = :a AND d.member_id = ANY(CAST(:member_id AS uuid[]))
  AND d.member_id = v.member_id AND d.sending_at = v.stamp
  AND (d.status = 'sending' OR (d.status = 'uncertain' AND d.reconciliation = 'unknown'))
"""

RELEASE_SQL = """
UPDATE announcement_deliveries SET status = 'queued', attempts = attempts - 1
WHERE announcement_id = :a AND member_id = ANY(CAST(:ids AS uuid[]))
  AND status = 'sending' AND sending_at = :stamp
"""
"""Rows a claim took under ``stamp`` whose answer never came: none was handed to a
provider, so they go back to the queue instead of being left in doubt."""

_RECORD_FIELDS = (
    "member_id", "status", "pmid", "code", "reason", "parts", "not_before", "channel",
    "provider", "address", "via_template", "route_reason", "reset", "tier", "stamp",
)  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC)


async def _all_or_stop(stop: asyncio.Event, aws: list[Any], *, in_flight: bool = False) -> None:
    """Wait for every one of ``aws``; when one fails, tell the others to claim nothing
    more (``stop``), still wait for them — none goes on sending after its job ended —
    and raise the first failure. When the job itself is cancelled (its timeout), the
    pumps are cancelled where they wait for room or tokens, but sends already handed
    to a provider (``in_flight``) finish and are recorded: cutting them off would
    leave them in doubt."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    failure: BaseException | None = None
    for task in asyncio.as_completed(tasks):
        try:
            await task
        except BaseException as exc:
            if failure is None:
                failure = exc
                stop.set()
                if isinstance(exc, asyncio.CancelledError) and not in_flight:
                    for other in tasks:
                        other.cancel()
    if failure is not None:
        raise failure


@dataclass(slots=True)
class Outcome:
    delivery: Outgoing
    result: SendResult | None = None
    error: SendError | None = None


class BatchSender:
    """Sends what is ready in one batch of one announcement."""

    def __init__(
        self, deps: Deps, content: Content, batch: int, *, stop: asyncio.Event | None = None
    ) -> None:
        self.deps = deps
        self.content = content
        self.announcement_id: uuid.UUID = content.id
        self.batch = batch
        self.stats: Counter[str] = Counter()
        self.stop = stop or asyncio.Event()
        """Set when the batch lease is lost: finish what is in flight, claim nothing new."""

    # --- the plan ------------------------------------------------------------------------

    async def pending(self) -> list[Any]:
        async with self.deps.session_factory() as session:
            now = utcnow()
            rows = await session.execute(
                text(PENDING_SQL),
                {"a": self.announcement_id, "b": self.batch, "now": now,
                 "settled": now - settle_after(self.deps)},
            )  # fmt: skip
            return list(rows.all())

    async def next_retry(self) -> datetime | None:
        async with self.deps.session_factory() as session:
            value: datetime | None = await session.scalar(
                text(NEXT_RETRY_SQL),
                {"a": self.announcement_id, "b": self.batch, "now": utcnow(),
                 "grace": settle_after(self.deps)},
            )  # fmt: skip
            return value

    async def skip_queued(self, reason: str) -> int:
        async with transaction(self.deps.session_factory) as session:
            result = await session.execute(
                text(
                    "UPDATE announcement_deliveries SET status = 'skipped', error_reason = :r,"
                    " failed_at = :now WHERE announcement_id = :a AND batch = :b"
                    " AND status = 'queued'"
                ),
                {"a": self.announcement_id, "b": self.batch, "r": reason, "now": utcnow()},
            )
            skipped = int(result.rowcount or 0)  # type: ignore[attr-defined]
        self.stats["skipped"] += skipped
        return skipped

    async def run(self, rows: list[Any]) -> None:
        """Send these rows (a snapshot of :meth:`pending`), paced per bucket; settle the
        sends a stopped worker left in flight first (notifier/reconcile.py)."""
        in_doubt = [r.member_id for r in rows if r.status == "sending"]
        if in_doubt:
            async with self._autocommit() as session:
                found = await reconcile.orphans(
                    session, self.announcement_id, in_doubt, utcnow() - settle_after(self.deps)
                )
                if found:
                    counts = await reconcile.settle(
                        self.deps, session, self.content, self.batch, found
                    )
                    self.stats.update({f"in_doubt_{how}": n for how, n in counts.items()})
        by_kind: dict[str, list[uuid.UUID]] = defaultdict(list)
        for row in rows:
            if row.status == "queued":
                by_kind[bucket_kind(row.channel, row.provider)].append(row.member_id)
        await _all_or_stop(self.stop, [self._pump(kind, ids) for kind, ids in by_kind.items()])

    async def _pump(self, kind: str, ids: list[uuid.UUID]) -> None:
        """Room first (a claimed row is sent at once), then tokens, then claim and send."""
        capacity = self.deps.capacity(kind)
        groups: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            groups.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]
                self.stop.set()  # e.g. PostgreSQL is gone: claim nothing more

        at = 0
        try:
            while at < len(ids) and not self.stop.is_set() and not self.expired():
                room = await capacity.take(min(len(ids) - at, self.deps.options.group_max))
                try:
                    granted = await self.deps.limiter.acquire(kind, up_to=room)
                except BaseException:
                    capacity.give(room)
                    raise
                if self.stop.is_set():  # the lease went while we waited: claim nothing
                    capacity.give(room)
                    break
                capacity.give(room - granted)
                group = ids[at : at + granted]
                at += granted
                task = asyncio.create_task(self._group(group, capacity))
                groups.add(task)
                task.add_done_callback(finished)
        finally:
            if groups:
                await _all_or_stop(self.stop, list(groups), in_flight=True)
        if failures:
            raise failures[0]

    def expired(self) -> bool:
        expires_at = self.content.expires_at
        return expires_at is not None and utcnow() >= expires_at

    # --- one group: claim, send, record ------------------------------------------------

    async def _group(self, ids: list[uuid.UUID], capacity: Capacity) -> None:
        claimed: list[Outgoing] = []
        try:
            claimed = await self._claim(ids)
        finally:
            capacity.give(len(ids) - len(claimed))
        if not claimed:
            return
        try:
            outcomes = await asyncio.gather(*(self._send(d) for d in claimed))
        finally:
            capacity.give(len(claimed))
        # No answer, but the request may have reached the provider (a timeout): the row
        # stays in 'sending' and is settled like a stopped worker's (notifier/reconcile.py).
        answered = [o for o in outcomes if o.error is None or not o.error.in_doubt]
        if len(answered) < len(outcomes):
            self.stats["in_doubt"] += len(outcomes) - len(answered)
        if answered:
            await self._record(answered)

    @contextlib.asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits on its own: a claim or a record is
        one statement, so it needs no BEGIN/COMMIT round trips."""
        async with self.deps.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                yield session

    async def _claim(self, ids: list[uuid.UUID]) -> list[Outgoing]:
        stamp = utcnow()
        try:
            return await self._claim_once(ids, stamp)
        except (DBAPIError, OSError):
            # PostgreSQL went away during the claim: it may have committed with only its
            # answer lost. Put back what it took (nothing was sent), while PostgreSQL
            # comes back within the records' retry time; else the rows stay in doubt
            # and are settled as a stopped worker's are (notifier/reconcile.py).
            with contextlib.suppress(DBAPIError, OSError):
                await self._while_away(lambda: self._release(ids, stamp), "releasing a claim")
            raise

    async def _release(self, ids: list[uuid.UUID], stamp: datetime) -> None:
        async with self._autocommit() as session:
            await session.execute(
                text(RELEASE_SQL), {"a": self.announcement_id, "ids": ids, "stamp": stamp}
            )

    async def _claim_once(self, ids: list[uuid.UUID], stamp: datetime) -> list[Outgoing]:
        async with self._autocommit() as session:
            rows = await session.execute(
                text(CLAIM_SQL), {"a": self.announcement_id, "ids": ids, "now": stamp}
            )
            claimed = []
            for row in rows:
                if row.status == "skipped":
                    self.stats["skipped"] += 1
                    continue
                claimed.append(
                    Outgoing(
                        member_id=row.member_id,
                        channel=row.channel,
                        provider=row.provider,
                        address=row.address,
                        language=row.language,
                        via_template=row.via_template,
                        attempts=row.attempts,
                        stamp=row.sending_at,
                    )
                )
            return claimed

    async def _send(self, delivery: Outgoing) -> Outcome:
        key = delivery.key(self.announcement_id)
        try:
            result = await send_delivery(self.deps.senders, self.content, delivery, key=key)
        except SendError as exc:
            return Outcome(delivery, error=exc)
        except Exception as exc:  # an adapter bug must not lose the row: retry it
            log.exception("send to %s failed unexpectedly", delivery.channel)
            return Outcome(delivery, error=SendError(repr(exc)[:200], code="exception"))
        return Outcome(delivery, result=result)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        options = self.deps.options
        exponential = min(
            options.backoff_max_seconds, options.backoff_base_seconds * 2 ** max(0, attempts - 1)
        )
        return max(retry_after or 0.0, exponential * random.uniform(1.0, 1.25))

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Record, retrying while PostgreSQL is away (a restart, a failover, a pooled
        connection it dropped) for up to ``record_retry_seconds`` (30): the messages
        went, and a record that never comes leaves them in doubt. Recording twice is
        harmless: the statement is fenced on each attempt's stamp."""
        await self._while_away(
            lambda: self._record_once(outcomes), f"recording {len(outcomes)} outcomes"
        )

    async def _while_away(self, attempt: Callable[[], Awaitable[None]], what: str) -> None:
        """``attempt`` again while PostgreSQL is away, for ``record_retry_seconds`` at most."""
        deadline = time.monotonic() + self.deps.options.record_retry_seconds
        wait = 0.1
        while True:
            try:
                await attempt()
                return
            except (DBAPIError, OSError) as exc:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("%s failed (%s): again in %.1f s", what, type(exc).__name__, wait)
                await asyncio.sleep(wait)
                wait = min(2 * wait, 2.0)

    async def _record_once(self, outcomes: list[Outcome]) -> None:
        now = utcnow()
        values: dict[str, list[Any]] = {name: [] for name in _RECORD_FIELDS}
        opt_outs: list[tuple[str, str]] = []
        holds: dict[str, float] = {}
        async with self._autocommit() as session:
            for outcome in outcomes:
                row = await self._decide(session, outcome, now, opt_outs, holds)
                for name in _RECORD_FIELDS:
                    values[name].append(row[name])
            await session.execute(
                text(RECORD_SQL), {"a": self.announcement_id, "now": now, **values}
            )
            for channel, address in opt_outs:
                await addresses.opt_out(session, channel, address, now=now)
            sent: dict[str, list[str]] = defaultdict(list)
            for outcome in outcomes:
                if outcome.result is not None and outcome.delivery.provider != "telegram":
                    sent[outcome.delivery.provider].append(outcome.result.provider_message_id)
            for provider, ids in sent.items():
                await reconcile_early(session, provider, ids, now, policy=self.deps.policy)
        for kind, seconds in holds.items():
            await self.deps.limiter.hold(kind, seconds)

    async def _decide(
        self,
        session: Any,
        outcome: Outcome,
        now: datetime,
        opt_outs: list[tuple[str, str]],
        holds: dict[str, float],
    ) -> dict[str, Any]:
        d = outcome.delivery
        row: dict[str, Any] = {
            "member_id": d.member_id, "status": "failed", "pmid": None, "code": None,
            "reason": None, "parts": None, "not_before": None, "channel": d.channel,
            "provider": d.provider, "address": d.address, "via_template": d.via_template,
            "route_reason": None, "reset": False, "tier": False, "stamp": d.stamp,
        }  # fmt: skip
        if outcome.result is not None:
            row["status"] = "delivered" if d.channel == Channel.TELEGRAM.value else "sent"
            row["pmid"] = outcome.result.provider_message_id
            row["parts"] = outcome.result.parts if d.channel == "sms" else None
            row["tier"] = d.channel == "whatsapp" and d.via_template
            self.stats[row["status"]] += 1
            return row
        error = outcome.error
        assert error is not None
        row["code"], row["reason"] = error.code, str(error)[:500]
        decision = decide(
            error.outcome,
            d.channel,
            attempts=d.attempts,
            max_attempts=self.deps.options.max_attempts,
            via_template=d.via_template,
        )
        if decision is Decision.OPT_OUT:
            opt_outs.append((d.channel, d.address))
            self.stats["opted_out"] += 1
            return row
        if decision is Decision.AS_TEMPLATE:
            row |= {"status": "queued", "via_template": True, "reset": True, "tier": True}
            self.stats["to_template"] += 1
            return row
        if decision is Decision.REROUTE:
            route = await fallback_route(
                session, self.announcement_id, d.member_id, policy=self.deps.policy
            )
            if route is not None:
                row |= {
                    "status": "queued", "channel": route.channel, "provider": route.provider,
                    "address": route.address, "via_template": False,
                    "route_reason": "whatsapp_unreachable", "reset": True,
                }  # fmt: skip
                self.stats["fallback"] += 1
                return row
        if error.permanent:  # failed, or no other channel to reroute to
            self.stats["failed"] += 1
            return row
        if error.retry_after:
            kind = bucket_kind(d.channel, d.provider)
            holds[kind] = max(holds.get(kind, 0.0), error.retry_after)
        if decision is not Decision.RETRY:
            row["reason"] = f"gave up after {d.attempts} attempts: {row['reason']}"
            self.stats["failed"] += 1
            return row
        wait = self._backoff(d.attempts, error.retry_after)
        row |= {"status": "queued", "not_before": now + timedelta(seconds=wait)}
        self.stats["retry"] += 1
        return row
