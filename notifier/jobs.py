"""Job bodies: plain async functions taking :class:`Deps` and ids. Only
notifier/worker.py knows they run under arq; their names and ids are core.jobs's.

A job that wants to run again later returns :class:`Again`; the worker turns it into
the queue's own deferred retry (same job id, so it stays unique).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from core import effects, fanout, whatsapp_tier
from core.announcements import is_cancelled, load_content
from core.channels.base import Channel, Reply
from core.db import transaction
from core.jobs import SEND_BATCH, QueuedJobs, batch_job_id
from core.outbound import EffectPorts, PriorityTokens
from core.services import elections, grievance_clock, retention
from notifier.bootstrap import Deps
from notifier.sending import BatchSender, utcnow

log = logging.getLogger(__name__)

ANALYZE_AFTER_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class Again:
    """Run this job again at ``at`` (a retry wait, or a long batch yielding its slot)."""

    at: datetime


def published_key(announcement_id: uuid.UUID | str) -> str:
    """Where the fan-out's summary is kept (rows, batches, seconds) once it ran."""
    return f"vck:published:{announcement_id}"


def lease_key(announcement_id: uuid.UUID | str, batch: int) -> str:
    return f"vck:lease:{announcement_id}:{batch}"


# --- the batch lease --------------------------------------------------------------------

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@contextlib.asynccontextmanager
async def batch_lease(
    redis: Redis, key: str, seconds: float, lost: asyncio.Event
) -> AsyncIterator[bool]:
    """Hold ``key`` while the block runs (heartbeat every third of ``seconds``); yields
    False when another live job holds it. Sets ``lost`` if a heartbeat fails."""
    token = uuid.uuid4().hex
    ttl_ms = int(seconds * 1000)
    renew, release = redis.register_script(_RENEW), redis.register_script(_RELEASE)
    if not await redis.set(key, token, nx=True, px=ttl_ms):
        yield False
        return

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                renewed = await renew(keys=[key], args=[token, ttl_ms])
            except Exception:
                renewed = 0
            if not renewed:
                log.warning("lost the lease %s", key)
                lost.set()
                return

    task = asyncio.create_task(heartbeat())
    try:
        yield True
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await release(keys=[key], args=[token])


# --- publishing -------------------------------------------------------------------------


async def enqueue_batches(deps: Deps, announcement_id: uuid.UUID, batches: Iterable[int]) -> int:
    jobs = [(batch_job_id(announcement_id, b), (str(announcement_id), b)) for b in batches]
    return await deps.queue.enqueue_many(SEND_BATCH, jobs) if jobs else 0


async def publish_announcement(deps: Deps, announcement_id: str) -> dict[str, Any]:
    """Fan out (one set-based write), commit, then enqueue one send job per batch."""
    started = time.perf_counter()
    aid = uuid.UUID(announcement_id)
    async with transaction(deps.session_factory) as session:
        publication = await fanout.publish(session, aid, now=utcnow(), policy=deps.policy)
    written = time.perf_counter()
    enqueued = await enqueue_batches(deps, aid, publication.batches)
    done = time.perf_counter()
    summary = {
        "state": publication.state.value,
        "rows": publication.rows,
        "batches": len(publication.batches),
        "enqueued": enqueued,
        "write_seconds": round(written - started, 3),
        "seconds": round(done - started, 3),
    }
    log.info("publish %s: %s", announcement_id, summary)
    if publication.state is fanout.PublishState.PUBLISHED:
        await deps.redis.set(published_key(aid), json.dumps(summary), ex=86_400)
    if publication.rows >= ANALYZE_AFTER_ROWS:
        # Fresh statistics, or the planner — still believing the table small — scans
        # the whole announcement for every claim instead of using the primary key.
        async with transaction(deps.session_factory) as session:
            await fanout.analyze(session, deps.policy)
    return summary


async def publish_due(deps: Deps) -> int:
    """Cron: publish every scheduled announcement whose time has come (the deferred
    publish job normally did it already; this catches a lost enqueue)."""
    async with deps.session_factory() as session:
        due = await fanout.due_announcements(session, now=utcnow())
    for announcement_id in due:
        await publish_announcement(deps, str(announcement_id))
    return len(due)


# --- sending a batch --------------------------------------------------------------------


async def send_batch(deps: Deps, announcement_id: str, batch: int) -> dict[str, Any] | Again:
    """Send what is ready in one batch; idempotent, and safe after a crash."""
    aid = uuid.UUID(announcement_id)
    lost = asyncio.Event()
    async with batch_lease(
        deps.redis, lease_key(aid, batch), deps.options.lease_seconds, lost
    ) as held:
        if not held:
            return {"state": "busy"}
        async with deps.session_factory() as session:
            content = await load_content(session, aid)
        if content is None:
            return {"state": "gone"}
        return await _drain(deps, BatchSender(deps, content, batch, stop=lost))


async def _drain(deps: Deps, sender: BatchSender) -> dict[str, Any] | Again:
    deadline = time.monotonic() + deps.options.batch_run_seconds
    content = sender.content
    while not sender.stop.is_set():
        if is_cancelled(content):
            await sender.skip_queued("cancelled")
        elif sender.expired():
            await sender.skip_queued("expired")
        rows = await sender.pending()
        if not rows:
            next_at = await sender.next_retry()
            if next_at is None:
                return {"state": "done", **sender.stats}
            if next_at - utcnow() > timedelta(seconds=2) or time.monotonic() > deadline:
                return Again(next_at)
            await asyncio.sleep(max(0.0, (next_at - utcnow()).total_seconds()))
            continue
        await sender.run(rows)
        if time.monotonic() > deadline:
            return Again(utcnow())
    return Again(utcnow() + timedelta(seconds=deps.options.lease_seconds))


# --- keeping every batch moving ---------------------------------------------------------


async def sweep(deps: Deps) -> int:
    """Cron (and at start): find batches with work that no live job owns — their worker
    was killed, or their job was lost — and enqueue them again. Returns how many."""
    now = utcnow()
    revived = 0
    async with deps.session_factory() as session:
        announcements = await fanout.unfinished_announcements(session, now=now)
    for aid in announcements:
        async with deps.session_factory() as session:
            span = await fanout.pending_batches(session, aid)
        if not span:
            continue
        batches = list(span)
        ids = [batch_job_id(aid, b) for b in batches]
        leases = await deps.redis.mget([lease_key(aid, b) for b in batches])
        states = await deps.queue.states(ids)
        orphaned = {
            b: state
            for b, lease, state in zip(batches, leases, states, strict=True)
            if lease is None and state != "queued"
        }
        if not orphaned:
            continue
        async with deps.session_factory() as session:
            with_work = await fanout.batches_with_work(session, aid, list(orphaned))
        for b in with_work:
            if orphaned[b] == "absent":
                job_id = batch_job_id(aid, b)
            else:  # its job is "running" with no lease: its worker died
                job_id = f"{batch_job_id(aid, b)}:r{int(now.timestamp()) // 60}"
            if await deps.queue.enqueue(SEND_BATCH, str(aid), b, job_id=job_id):
                revived += 1
    if revived:
        log.info("sweep: re-enqueued %d batches", revived)
    return revived


async def release_deferred(deps: Deps) -> int:
    """Cron: members waiting for WhatsApp capacity go as the tier's 24 hours roll on."""
    released = 0
    async with deps.session_factory() as session:
        announcements = await fanout.announcements_with_deferred(session)
    for aid in announcements:
        async with transaction(deps.session_factory) as session:
            batches = await fanout.release_deferred(session, aid, now=utcnow(), policy=deps.policy)
        released += await enqueue_batches(deps, aid, batches)
    return released


# --- the priority lane --------------------------------------------------------------------


def priority_tokens(deps: Deps) -> PriorityTokens:
    """Tokens from the reserved (priority) share of the sender's bucket."""
    return PriorityTokens(
        deps.limiter, deps.dispatcher, max_wait=effects.TOKEN_WAIT.total_seconds()
    )


async def adopt_legacy_reply(
    deps: Deps,
    channel: str,
    address: str,
    payload: dict[str, Any],
    key: str,
    sms_template: str | None = None,
) -> int:
    """A reply job written before replies were kept in the outbox table (its arguments
    were the reply itself): the reply becomes a row, with its key, so an upgrade loses
    none. Its id."""
    return await effects.record_reply(
        deps.engine, Channel(channel), address, Reply.from_dict(payload), key=key,
        sms_template=sms_template,
    )  # fmt: skip


async def send_reply_job(deps: Deps, outbox_id: int) -> dict[str, Any] | Again:
    """One reply kept in the outbox table (core.effects.record_reply), ahead of any bulk
    send: it takes the sender's reserved tokens (core.ratelimit), never waits behind a
    batch. A refusal for now leaves the row with its retry time, and the job runs again
    then; done, given up or erased, the row is gone."""
    again = await effects.deliver_one(deps.engine, deps.settings, effect_ports(deps), outbox_id)
    if again is None:
        return {"state": "done"}
    return Again(again)


# --- the outbox sweep ---------------------------------------------------------------------


def effect_ports(deps: Deps) -> EffectPorts:
    """core.effects.Ports in the worker: sends take the sender's reserved (priority)
    tokens, as the priority lane does; a refusal raises, so the row waits in the outbox."""

    tier = whatsapp_tier.Ledger(deps.engine, deps.settings.secret_key.get_secret_value())
    return EffectPorts(deps.dispatcher, QueuedJobs(deps.queue), priority_tokens(deps), tier)


async def purge_expired(deps: Deps) -> int:
    """Cron, daily: what is past its retention (core/services/retention.py)."""
    async with transaction(deps.session_factory) as session:
        purged = await retention.purge(session, deps.settings, now=utcnow())
    log.info("retention: purged %s", purged)
    return purged.otp_codes + purged.message_bodies + purged.status_events + purged.conversations


async def deliver_effects(deps: Deps) -> int:
    """Cron: effects their writer did not deliver (it crashed after its commit, or a
    provider refused for now)."""
    delivered = await effects.deliver_due(deps.engine, deps.settings, effect_ports(deps))
    if delivered:
        log.info("outbox: delivered %d effects", delivered)
    return delivered


async def sweep_grievances(deps: Deps) -> int:
    """Cron, every minute: tickets past a deadline climb one level
    (core/services/grievance_clock.py); their notices go through the outbox."""
    async with transaction(deps.session_factory) as session:
        swept = await grievance_clock.sweep(session, deps.settings, now=utcnow())
    if swept.escalated or swept.breached_at_top:
        log.info("grievances: %d escalated, %d past deadline at the top", swept.escalated,
                 swept.breached_at_top)  # fmt: skip
    return swept.escalated


async def reconcile_donations(deps: Deps) -> int:
    """Cron, every 5 minutes: payment links still unpaid after
    ``VCK_DONATION_RECONCILE_AFTER_MINUTES`` are fetched from the gateway; a paid one is
    applied as its lost webhook would have been (core/services/donation_payments.py)."""
    from core.payments import RazorpayClient
    from core.services import donation_payments

    gateway = RazorpayClient(deps.settings)
    try:
        counts = await donation_payments.reconcile(
            deps.session_factory, gateway, now=utcnow(), settings=deps.settings
        )
    finally:
        await gateway.close()
    if counts:
        log.info("donations: reconciled %s", counts)
    return sum(counts.values())


async def advance_elections(deps: Deps) -> int:
    """Cron: move elections along their calendar (core/services/elections.py): freeze the
    roll, open and close voting, declare and announce results (the announcement is then
    published by :func:`publish_due`)."""
    async with transaction(deps.session_factory) as session:
        moves = await elections.advance(session, deps.settings, now=utcnow())
    for election_id, status in moves:
        log.info("election %s: %s", election_id, status.value)
    return len(moves)
