"""Signed payment webhooks per second, each event applied exactly once (issue 15).

``POST /webhooks/razorpay`` on the bot (``vck serve``) against a trivial handler that only
reads the body, checks ``X-Razorpay-Signature`` (HMAC-SHA256 of the raw body) and answers
``{"ok": true}``, run the same way (``PROCESSES`` of each, requests spread over them):
``bot ÷ trivial`` is what applying a payment costs. Requests are sent by the lean load
generator of the inbound benchmark (:mod:`benchmarks.loadgen`), in two phases:

- *capacity*: ``EVENTS`` paid events, ``CONCURRENCY`` requests always in flight (closed
  loop): the most webhooks per second the bots apply. Its latency is mostly queueing by
  construction (in flight ÷ throughput): printed, not the target's p99;
- *a sale day*: ``PACED_EVENTS`` more, their webhooks arriving at ``RATE`` per second
  whatever the bots do (open loop, as a gateway delivers them); each latency counts from
  when its webhook was due. This is the target's figure.

What one measured webhook costs is everything a real one costs: the signature, the event
id claimed in ``payment_gateway_events``, the donation row locked and moved forward, a
receipt number taken from the year's counter row (one row: every payment serialises on
it, as gapless numbering must), the campaign total updated. Every paid event is delivered
**twice** with the same event id, in shuffled order, as an at-least-once gateway does; the
second copy is answered from the event table. The donations carry no chat address, so no
thanks is queued (the outbox's cost is the inbound benchmark's).

Receipt numbers (and the campaign total) follow each payment in a background run that
numbers what has been paid so far (bot/payments.py): each phase's window closes when the
database shows every donation paid once, one event row each, receipt serials 1..N with
no gap and the campaign total exact. A run that does not get there within 30 s prints
``FAILED`` instead of its figures.

Environment: ``VCK_BENCH_DONATIONS_EVENTS`` [2000 paid events, so 4000 requests],
``VCK_BENCH_DONATIONS_PACED_EVENTS`` [5000], ``VCK_BENCH_DONATIONS_RATE`` [500],
``VCK_BENCH_DONATIONS_CONCURRENCY`` [32], ``VCK_BENCH_DONATIONS_PROCESSES`` [the number
of cores], ``VCK_BENCH_DONATIONS_DB`` [vck_bench_donations],
``VCK_BENCH_DONATIONS_REDIS_DB`` [11]. Target (issue 15): ≥ 500 webhooks/s with p99 ≤
50 ms (the sale-day line).

Run: ``python -m benchmarks donations``; the floor alone: ``python -m benchmarks.donations
--trivial --port 8098``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from aiohttp import web

from benchmarks import loadgen
from benchmarks.common import (
    LOOPBACK,
    Child,
    database_url,
    drop_database,
    flush_redis,
    loopback_urls,
    migrated_database,
    port_of,
    redis_url,
    start_bot,
    stop_all,
    wait_http_ok,
)
from benchmarks.loadgen import Phase, Request, encode_post
from core.config import load_settings
from core.db import sync_url
from core.payments import EVENT_ID_HEADER, SIGNATURE_HEADER, sign_webhook, verify_webhook

AMOUNT = 500


# --- the floor -----------------------------------------------------------------------------

SECRET_KEY = web.AppKey("secret", str)


async def trivial_webhook(request: web.Request) -> web.Response:
    body = await request.read()
    if not verify_webhook(request.app[SECRET_KEY], body, request.headers.get(SIGNATURE_HEADER)):
        return web.json_response({"error": "signature check failed"}, status=403)
    return web.json_response({"ok": True})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def serve_trivial(port: int) -> None:
    from core.aio import new_event_loop

    app = web.Application()
    app[SECRET_KEY] = load_settings().razorpay_webhook_secret.get_secret_value()
    app.router.add_post("/webhooks/razorpay", trivial_webhook)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, loop=new_event_loop(), host=LOOPBACK, port=port, access_log=None, print=None)


# --- the run ---------------------------------------------------------------------------------


def paid_body(link_id: str, n: int) -> bytes:
    now = int(time.time())
    payment = {
        "id": f"pay_bench{n:09d}",
        "entity": "payment",
        "amount": AMOUNT * 100,
        "currency": "INR",
        "status": "captured",
        "method": "upi",
        "created_at": now,
    }
    link = {"id": link_id, "amount": AMOUNT * 100, "amount_paid": AMOUNT * 100, "status": "paid"}
    return json.dumps(
        {
            "entity": "event",
            "account_id": "acc_bench",
            "event": "payment_link.paid",
            "contains": ["payment_link", "payment"],
            "payload": {"payment_link": {"entity": link}, "payment": {"entity": payment}},
            "created_at": now,
        }
    ).encode()


async def prepare(url: str, events: int) -> str:
    """A migrated database with ``events`` donations waiting on their links; the campaign id."""

    await migrated_database(url)
    conn = await asyncpg.connect(sync_url(url))
    try:
        campaign = await conn.fetchval(
            "INSERT INTO donation_campaigns (name, start_date) VALUES ('Bench', now())"
            " RETURNING id::text"
        )
        await conn.execute(
            "INSERT INTO donations (campaign_id, amount, donor_name, donor_phone,"
            " payment_gateway, payment_status, financial_year, payment_link_id,"
            " link_expires_at)"
            " SELECT $1::uuid, $2, 'Bench donor', '+9170' || lpad(n::text, 8, '0'), 'razorpay',"
            " 'pending', '2026-27', 'plink_bench' || lpad(n::text, 9, '0'),"
            " now() + interval '1 day'"
            " FROM generate_series(1, $3) AS n",
            campaign,
            AMOUNT,
            events,
        )
    finally:
        await conn.close()
    return str(campaign)


async def check(url: str, events: int, campaign: str) -> list[str]:
    """What is wrong with the database when ``events`` payments should be applied
    (nothing, when all is well)."""
    conn = await asyncpg.connect(sync_url(url))
    try:
        paid = await conn.fetchval(
            "SELECT count(*) FROM donations WHERE payment_status = 'completed'"
        )
        rows = await conn.fetchval("SELECT count(*) FROM payment_gateway_events")
        serials = await conn.fetchrow(
            "SELECT count(DISTINCT receipt_serial), min(receipt_serial), max(receipt_serial)"
            " FROM donations WHERE receipt_serial IS NOT NULL"
        )
        total = await conn.fetchval(
            "SELECT collected_amount FROM donation_campaigns WHERE id = $1::uuid", campaign
        )
    finally:
        await conn.close()
    wrong = []
    if paid != events:
        wrong.append(f"{paid} donations paid, expected {events}")
    if rows != events:
        wrong.append(f"{rows} event rows, expected {events}")
    if tuple(serials) != (events, 1, events):
        wrong.append(f"receipt serials {tuple(serials)}, expected ({events}, 1, {events})")
    if int(total) != events * AMOUNT:
        wrong.append(f"campaign total {total}, expected {events * AMOUNT}")
    return wrong


def signed_requests(urls: list[str], first: int, events: int, secret: str) -> list[Request]:
    """Paid events ``first`` … ``first + events - 1``, each twice (at least once), shuffled
    and spread over ``urls``."""
    requests = []
    for n in range(first, first + events):
        body = paid_body(f"plink_bench{n:09d}", n)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_webhook(secret, body),
            EVENT_ID_HEADER: f"evt_bench{n:09d}",
        }
        requests += [(body, headers), (body, headers)]
    random.Random(15 + first).shuffle(requests)
    return [
        encode_post(urls[i % len(urls)] + "/webhooks/razorpay", body, headers)
        for i, (body, headers) in enumerate(requests)
    ]


def report(name: str, phase: Phase, seconds: float, how: str, floor: float | None) -> float:
    bad = sum(1 for _, answer in phase.answers if answer.status >= 300) + len(phase.errors)
    print(
        f"{name}: {phase.figures('webhooks', floor, seconds=seconds)} ({how}),"
        f" {bad} non-2xx or failed",
        flush=True,
    )
    return len(phase.latencies) / seconds


async def applied(phase: Phase, db: str, events: int, campaign: str) -> float:
    """The phase's window, closed when the database shows ``events`` payments applied
    exactly once (30 s at most after the last answer)."""
    wrong, closed = await check(db, events, campaign), phase.finished
    while wrong and time.perf_counter() - phase.finished < 30:
        await asyncio.sleep(0.05)
        wrong, closed = await check(db, events, campaign), time.perf_counter()
    failures = [str(a.status) for _, a in phase.answers if a.status >= 300] + phase.errors
    if wrong or failures:
        print("donations: FAILED: " + "; ".join(wrong or failures[:3]), flush=True)
        raise RuntimeError("webhooks not applied exactly once")
    return closed - phase.started


async def run() -> None:
    env_of = os.environ.get
    events = int(env_of("VCK_BENCH_DONATIONS_EVENTS", "2000"))
    paced_events = int(env_of("VCK_BENCH_DONATIONS_PACED_EVENTS", "5000"))
    rate = float(env_of("VCK_BENCH_DONATIONS_RATE", "500"))
    concurrency = int(env_of("VCK_BENCH_DONATIONS_CONCURRENCY", "32"))
    processes = int(env_of("VCK_BENCH_DONATIONS_PROCESSES", str(os.cpu_count() or 1)))
    db = database_url(env_of("VCK_BENCH_DONATIONS_DB", "vck_bench_donations"))
    redis = redis_url(int(env_of("VCK_BENCH_DONATIONS_REDIS_DB", "11")))
    secret = load_settings().razorpay_webhook_secret.get_secret_value()
    logs = Path(tempfile.mkdtemp(prefix="vck-bench-donations-"))
    campaign = await prepare(db, events + paced_events)
    await flush_redis(redis)
    env = {"VCK_DATABASE_URL": db, "VCK_REDIS_URL": redis, "VCK_LOG_LEVEL": "WARNING"}
    bot_urls, trivial_urls = loopback_urls(processes), loopback_urls(processes)
    bots = [start_bot(port_of(url), env, logs) for url in bot_urls]
    trivials = [
        Child(
            [
                sys.executable,
                "-m",
                "benchmarks.donations",
                "--trivial",
                "--port",
                str(port_of(url)),
            ],
            env=env,
            log=logs / f"trivial-{port_of(url)}.log",
        )
        for url in trivial_urls
    ]
    try:
        for url, child in zip(bot_urls + trivial_urls, bots + trivials, strict=True):
            await wait_http_ok(f"{url}/healthz", child)
        floor_phase = await loadgen.closed_loop_for(
            signed_requests(trivial_urls, 1, events, secret), concurrency, 60.0
        )
        floor = report(
            "trivial", floor_phase, floor_phase.seconds, f"{concurrency} in flight", None
        )
        cpu_before = sum(bot.cpu_seconds() for bot in bots)
        capacity = await loadgen.closed_loop_for(
            signed_requests(bot_urls, 1, events, secret), concurrency, 120.0
        )
        seconds = await applied(capacity, db, events, campaign)
        cpu = sum(bot.cpu_seconds() for bot in bots) - cpu_before
        report("bot capacity", capacity, seconds, f"{concurrency} in flight, closed loop", floor)
        print(
            f"bot CPU: {cpu / len(capacity.latencies) * 1000:.1f} ms per webhook,"
            f" {cpu / seconds * 100:.0f}% of one core ({processes} bots)",
            flush=True,
        )
        paced = await loadgen.open_loop_for(
            signed_requests(bot_urls, events + 1, paced_events, secret), rate
        )
        seconds = await applied(paced, db, events + paced_events, campaign)
        report("bot sale day", paced, seconds, f"offered at {rate:.0f}/s, open loop", floor)
        print(
            f"donations: {events + paced_events} events, each delivered twice, applied exactly"
            " once (checked); target ≥ 500/s at p99 ≤ 50 ms (the sale-day line)",
            flush=True,
        )
    finally:
        stop_all(bots + trivials)
        await drop_database(db)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.donations", description=__doc__)
    parser.add_argument("--trivial", action="store_true", help="serve the floor handler")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv or [])  # run as a part: no arguments of its own
    if args.trivial:
        serve_trivial(args.port)
        return
    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])
