"""Retention (core/services/retention.py): OTP rows and idle conversation states after a
day, message texts and status callbacks after 90 days; newer ones untouched; ``vck
privacy purge`` runs it and the worker schedules it daily."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from core.models import ConversationStateRow, Message, MessageStatusEvent, OtpVerification
from core.services import retention

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _age(session, days: float) -> None:
    at = NOW - timedelta(days=days)
    session.add(OtpVerification(phone="+919840000001", otp_hmac="x" * 64, purpose="login",
                                expires_at=at, created_at=at))  # fmt: skip
    session.add(Message(direction="out", channel="sms", address="h", provider="dlt",
                        body=f"{days} days old", created_at=at))  # fmt: skip
    session.add(MessageStatusEvent(provider="dlt", provider_message_id=f"s{days}",
                                   status="sent", received_at=at))  # fmt: skip
    session.add(ConversationStateRow(key=f"k{days}", state={"flow": "signup"}, updated_at=at))
    await session.flush()


async def test_purge_removes_only_what_is_past_its_retention(session, settings) -> None:
    for days in (0.5, 2, 89, 91):
        await _age(session, days)
    purged = await retention.purge(session, settings, now=NOW)
    await session.commit()
    assert (purged.otp_codes, purged.message_bodies, purged.status_events) == (3, 1, 1)
    assert purged.conversations == 3  # a day idle: all but the half-day one
    kept = set(await session.scalars(select(ConversationStateRow.key)))
    assert kept == {"k0.5"}
    assert await session.scalar(select(func.count()).select_from(OtpVerification)) == 1
    bodies = set(await session.scalars(select(Message.body).where(Message.address == "h")))
    assert bodies == {"0.5 days old", "2 days old", "89 days old", None}
    events = set(await session.scalars(select(MessageStatusEvent.provider_message_id)))
    assert {"s0.5", "s2", "s89"} <= events and "s91" not in events
    again = await retention.purge(session, settings, now=NOW)
    assert (again.otp_codes, again.message_bodies, again.status_events) == (0, 0, 0)
    assert again.conversations == 0


async def test_vck_privacy_purge_runs_it(session, settings) -> None:
    await session.execute(text(
        "INSERT INTO otp_verifications (phone, otp_hmac, purpose, expires_at, created_at)"
        " VALUES ('+919840000002', :h, 'login', now() - interval '3 days',"
        " now() - interval '3 days')"), {"h": "z" * 64})  # fmt: skip
    await session.commit()
    env = {**os.environ, "VCK_DATABASE_URL": settings.database_url,
           "VCK_ENVIRONMENT": "test"}  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", "privacy",
         "purge"], capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 OTP codes" in done.stdout
    assert await session.scalar(select(func.count()).select_from(OtpVerification)) == 0


def test_the_worker_purges_daily() -> None:
    from notifier.bootstrap import NotifierOptions
    from notifier.worker import bulk_worker

    class Deps:
        options = NotifierOptions()

    worker = bulk_worker(Deps(), pool=None)  # type: ignore[arg-type]
    names = {job.name for job in worker.cron_jobs}
    assert any("purge_expired" in name for name in names)
