"""Nothing secret in queues or logs (issue 10.3, security review M2): an OTP code and a
member's number go through the paths that used to put them on a queue — a code whose
inline send failed, a reply a provider refused for now — and a real ``vck worker``
process (logging at DEBUG) sends them. Afterwards neither the worker's log output nor
any Redis key or value holds the code or the number, while the providers did get
both (so the search is looking at the right things)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import effects
from core.channels.base import Channel, Reply
from core.config import Settings
from core.i18n import Language
from core.jobs import redis_jobs
from core.outbound import Dispatcher, EffectPorts, NowOrQueued, Senders
from core.services import otp
from tests.test_crash_safety import WORKER, wait_for, worker_env
from tests.test_worker import Fakes, fakes, notifier_settings  # noqa: F401  (fixtures)

PHONE = "+919811177345"
NATIONAL = PHONE.removeprefix("+91")


async def redis_everything(redis: aioredis.Redis) -> list[bytes]:
    """Every key of the database and every value under it, whatever its type."""
    found: list[bytes] = []
    async for key in redis.scan_iter(count=500):
        found.append(key)
        kind = (await redis.type(key)).decode()
        if kind == "string":
            found.append(await redis.get(key) or b"")
        elif kind == "hash":
            for field, value in (await redis.hgetall(key)).items():
                found += [field, value]
        elif kind == "list":
            found += await redis.lrange(key, 0, -1)
        elif kind == "set":
            found += list(await redis.smembers(key))
        elif kind == "zset":
            found += await redis.zrange(key, 0, -1)
        elif kind == "stream":
            for _, entry in await redis.xrange(key):
                for field, value in entry.items():
                    found += [field, value]
    return found


def holds_code(blob: str, code: str) -> bool:
    """The code as a number of its own, not inside a longer run of digits or hex (a uuid
    or a provider's id may contain any six digits)."""
    return re.search(rf"(?<![0-9A-Fa-f]){re.escape(code)}(?![0-9A-Fa-f])", blob) is not None


def holds_number(blob: str) -> bool:
    """The number's ten national digits, anywhere (a masked number keeps four)."""
    return NATIONAL in blob or NATIONAL in re.sub(r"[ -]", "", blob)


async def test_the_worker_log_and_redis_hold_no_code_and_no_number(
    notifier_settings: Settings,  # noqa: F811
    settings: Settings,
    fakes: Fakes,  # noqa: F811
    engine: AsyncEngine,
    session: AsyncSession,
    redis: aioredis.Redis,
) -> None:
    now = datetime.now(UTC)
    # The OTP path: a step asks for a code and records its SMS in the outbox (ids and a
    # nonce); the bot's inline send meets a DLT outage, so the row waits for the worker.
    request = await otp.request_code(
        session, settings, PHONE, otp.OtpPurpose.STEP_UP, now=now, requester="test"
    )
    assert request.code is not None and request.otp_id is not None
    code = request.code
    row = await effects.record(
        session, effects.Kind.CODE_SMS, effects.code_sms(request, PHONE, Language.ENGLISH), now=now
    )
    await session.commit()
    senders = Senders.from_settings(notifier_settings)
    dispatcher = Dispatcher(senders, notifier_settings)
    jobs = redis_jobs(redis)
    try:
        fakes.dlt.fail(seconds=30, status=503)
        ports = EffectPorts(dispatcher, jobs)
        assert await effects.deliver(engine, notifier_settings, ports, [row]) == 0
        # The priority-lane path: a reply to the member, refused for now by Twilio.
        fakes.twilio.fail(seconds=30, status=429, retry_after=1)
        card = Reply(f"Your membership card: Selvi, {PHONE}, code {code}")
        assert (
            await NowOrQueued(dispatcher, jobs, engine).send(Channel.WHATSAPP, PHONE, card) is None
        )
    finally:
        await senders.close()
    fakes.dlt.recover()
    fakes.twilio.recover()
    async with engine.begin() as conn:
        # The code's retry is due now, not in 5 s; the reply's row is left to its
        # priority-lane job alone (the sweep would take it only in an hour).
        await conn.execute(
            text(
                "UPDATE outbox SET available_at = CASE WHEN id = :i THEN now()"
                " ELSE now() + interval '1 hour' END"
            ),
            {"i": row},
        )

    log_path = Path(tempfile.mkdtemp(prefix="vck-no-secrets-")) / "worker.log"
    env = worker_env(settings, fakes) | {"VCK_LOG_LEVEL": "DEBUG"}
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(  # noqa: ASYNC220  (started once, waited for below)
            WORKER, env=env, cwd=os.getcwd(), stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            await wait_for(
                lambda: (
                    any(code in m.get("Body", "") for m in fakes.dlt.sent)
                    and any(m.get("To") == f"whatsapp:{PHONE}" for m in fakes.twilio.sent)
                ),
                within=60,
                what="the code by SMS and the reply on WhatsApp",
            )
            await wait_for(lambda: _outbox_empty(engine), within=10, what="the outbox rows deleted")
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    log = log_path.read_text(errors="replace")
    assert "notifier worker up" in log  # the capture holds the worker's output
    assert "DEBUG" in log or "INFO" in log
    assert not holds_code(log, code), "the OTP code is in the worker's log"
    assert not holds_number(log), "the number is in the worker's log"
    token = settings.telegram_bot_token.get_secret_value()
    assert token.split(":", 1)[1] not in log, "the Telegram bot's token is in the log"

    stored = b"\n".join(await redis_everything(redis)).decode(errors="replace")
    assert stored  # the worker's queues and buckets are there to be searched
    assert not holds_code(stored, code), "the OTP code is in Redis"
    assert not holds_number(stored), "the number is in Redis"


async def _outbox_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return not await conn.scalar(text("SELECT count(*) FROM outbox"))


def test_the_search_finds_what_it_looks_for() -> None:
    assert holds_code("sent 123456 to x", "123456") and holds_code("code=123456.", "123456")
    assert not holds_code("id 9a123456f0", "123456")
    assert holds_number(f"To=whatsapp:{PHONE}") and holds_number("98111 77345")
    assert not holds_number("+91******7345")
