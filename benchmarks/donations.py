"""Signed payment webhooks per second, each event applied exactly once (issue 15).

``POST /webhooks/razorpay`` on the bot (``vck serve``) against a trivial handler that only
reads the body, checks ``X-Razorpay-Signature`` (HMAC-SHA256 of the raw body) and answers
``{"ok": true}``, run as its own process the same way: ``bot ÷ trivial`` is what applying
a payment costs.

What one measured webhook costs is everything a real one costs: the signature, the event
id claimed in ``payment_gateway_events``, the donation row locked and moved forward, a
receipt number taken from the year's counter row (one row: every payment serialises on
it, as gapless numbering must), the campaign total updated. Every paid event is delivered
**twice** with the same event id, in shuffled order, as an at-least-once gateway does; the
second copy is answered from the event table. The donations carry no chat address, so no
thanks is queued (the outbox's cost is the inbound benchmark's).

Receipt numbers (and the campaign total) follow each payment in a background run that
numbers what has been paid so far (bot/payments.py): the measured window closes when the
database shows every donation paid once, one event row each, receipt serials 1..N with
no gap and the campaign total exact. A run that does not get there within 30 s prints
``FAILED`` instead of its figures.

Environment: ``VCK_BENCH_DONATIONS_EVENTS`` [2000 paid events, so 4000 requests],
``VCK_BENCH_DONATIONS_CONCURRENCY`` [32], ``VCK_BENCH_DONATIONS_DB``
[vck_bench_donations], ``VCK_BENCH_DONATIONS_REDIS_DB`` [11]. Target (issue 15): ≥ 500
webhooks/s with p99 ≤ 50 ms.

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

import aiohttp
import asyncpg
from aiohttp import web

from benchmarks.common import (
    LOOPBACK,
    Child,
    database_url,
    drop_database,
    flush_redis,
    free_port,
    migrated_database,
    redis_url,
    start_bot,
    stop_all,
    wait_http_ok,
)
from benchmarks.meter import percentile
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
    """What is wrong with the database after the run (nothing, when all is well)."""
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


async def load(
    base: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[float, list[float], int]:
    """Send every request, ``concurrency`` in flight; (seconds, latencies, non-2xx)."""
    queue = iter(requests)
    latencies: list[float] = []
    failures = 0

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal failures
        for body, headers in queue:
            started = time.perf_counter()
            async with client.post(base + "/webhooks/razorpay", data=body, headers=headers) as r:
                await r.read()
                if r.status >= 300:
                    failures += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, sorted(latencies), failures


def signed_requests(events: int, secret: str) -> list[tuple[bytes, dict[str, str]]]:
    requests = []
    for n in range(1, events + 1):
        body = paid_body(f"plink_bench{n:09d}", n)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_webhook(secret, body),
            EVENT_ID_HEADER: f"evt_bench{n:09d}",
        }
        requests += [(body, headers), (body, headers)]  # at least once: every event twice
    random.Random(15).shuffle(requests)
    return requests


def report(name: str, seconds: float, latencies: list[float], failures: int) -> float:
    rate = len(latencies) / seconds
    print(
        f"{name}: {rate:.0f} webhooks/s, p50 {percentile(latencies, 0.5) * 1000:.1f} ms,"
        f" p99 {percentile(latencies, 0.99) * 1000:.1f} ms, {failures} non-2xx",
        flush=True,
    )
    return rate


async def run() -> None:
    events = int(os.environ.get("VCK_BENCH_DONATIONS_EVENTS", "2000"))
    concurrency = int(os.environ.get("VCK_BENCH_DONATIONS_CONCURRENCY", "32"))
    db = database_url(os.environ.get("VCK_BENCH_DONATIONS_DB", "vck_bench_donations"))
    redis = redis_url(int(os.environ.get("VCK_BENCH_DONATIONS_REDIS_DB", "11")))
    secret = load_settings().razorpay_webhook_secret.get_secret_value()
    logs = Path(tempfile.mkdtemp(prefix="vck-bench-donations-"))
    campaign = await prepare(db, events)
    await flush_redis(redis)
    env = {"VCK_DATABASE_URL": db, "VCK_REDIS_URL": redis, "VCK_LOG_LEVEL": "WARNING"}
    bot_port, trivial_port = free_port(), free_port()
    bot = start_bot(bot_port, env, logs)
    trivial = Child(
        [sys.executable, "-m", "benchmarks.donations", "--trivial", "--port", str(trivial_port)],
        env=env,
        log=logs / "trivial.log",
    )
    children = [bot, trivial]
    try:
        await wait_http_ok(f"http://{LOOPBACK}:{bot_port}/healthz", bot)
        await wait_http_ok(f"http://{LOOPBACK}:{trivial_port}/healthz", trivial)
        requests = signed_requests(events, secret)
        floor = report(
            "trivial", *await load(f"http://{LOOPBACK}:{trivial_port}", requests, concurrency)
        )
        cpu_before = bot.cpu_seconds()
        seconds, latencies, failures = await load(
            f"http://{LOOPBACK}:{bot_port}", requests, concurrency
        )
        # Receipts are numbered just after each payment, in the background: the window
        # closes when the last one is (the check passes), 30 s at most.
        started = time.perf_counter() - seconds
        wrong = await check(db, events, campaign)
        while wrong and time.perf_counter() - started < seconds + 30:
            await asyncio.sleep(0.05)
            wrong = await check(db, events, campaign)
        seconds = time.perf_counter() - started
        cpu = bot.cpu_seconds() - cpu_before
        if wrong or failures:
            print("donations: FAILED: " + "; ".join(wrong or [f"{failures} non-2xx"]), flush=True)
            print(bot.tail(), flush=True)
            raise RuntimeError("webhooks not applied exactly once")
        rate = report("bot", seconds, latencies, failures)
        print(
            f"bot CPU: {cpu / len(latencies) * 1000:.1f} ms per webhook,"
            f" {cpu / seconds * 100:.0f}% of one core",
            flush=True,
        )
        print(
            f"ratio: {rate / floor:.2f} of the trivial handler; {events} events, each"
            f" delivered twice, applied exactly once (checked)",
            flush=True,
        )
    finally:
        stop_all(children)
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
