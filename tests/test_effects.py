"""The transactional outbox (core/effects.py): effects exist exactly when their step
committed, are delivered once by whoever claims them, wait and retry after a refusal
for now, and are given up after a permanent one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy import text as sql

from bot.outbox import RecordingOutbox
from core import effects
from core.channels.base import Channel, Outcome, Reply, SendError
from core.channels.sms_text import segments
from core.models import OutboxEffect
from core.services import otp

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Refusing(RecordingOutbox):
    def __init__(self, error: SendError) -> None:
        super().__init__()
        self.error = error

    async def send(self, channel: Channel, address: str, reply: Reply) -> None:
        raise self.error


async def _notice(session_factory, text: str = "வணக்கம்") -> int:
    async with session_factory() as session, session.begin():
        payload = effects.notice(Channel.TELEGRAM, "4242", text)
        return await effects.record(session, effects.Kind.NOTICE, payload, now=NOW)


async def _rows(session_factory) -> list[OutboxEffect]:
    async with session_factory() as session:
        return list(await session.scalars(select(OutboxEffect)))


async def test_a_rolled_back_step_leaves_no_effect(session_factory) -> None:
    async with session_factory() as session:
        async with session.begin():
            payload = effects.notice(Channel.TELEGRAM, "4242", "x")
            await effects.record(session, effects.Kind.NOTICE, payload, now=NOW)
            await session.rollback()
    assert await _rows(session_factory) == []


async def test_delivered_once_then_gone(engine, session_factory, settings) -> None:
    row = await _notice(session_factory)
    ports = RecordingOutbox()
    assert await effects.deliver(engine, settings, ports, [row]) == 1
    assert await effects.deliver(engine, settings, ports, [row]) == 0  # nobody else acts
    assert ports.sent == [(Channel.TELEGRAM, "4242", "வணக்கம்")]
    assert await _rows(session_factory) == []


async def test_a_refusal_for_now_waits_and_is_retried(engine, session_factory, settings) -> None:
    row = await _notice(session_factory)
    busy = Refusing(SendError("busy", code="429", retry_after=30))
    assert await effects.deliver(engine, settings, busy, [row]) == 0
    [left] = await _rows(session_factory)
    assert left.attempts == 1 and left.last_error == "429"
    async with engine.connect() as conn:
        waits = await conn.scalar(select(OutboxEffect.available_at - func.now()))
    assert waits.total_seconds() > 25  # Retry-After honoured
    assert await effects.deliver_due(engine, settings, RecordingOutbox()) == 0  # not yet


async def test_a_permanent_refusal_is_given_up(engine, session_factory, settings) -> None:
    row = await _notice(session_factory)
    gone = Refusing(SendError("blocked", code="21610", outcome=Outcome.OPTED_OUT))
    assert await effects.deliver(engine, settings, gone, [row]) == 0
    assert await _rows(session_factory) == []


def test_an_otp_code_is_derived_from_its_row_and_nonce(settings) -> None:
    otp_id = uuid.uuid4()
    code = otp.code_for(settings, otp_id, "n1")
    assert len(code) == 6 and code.isdigit()
    assert otp.code_for(settings, otp_id, "n1") == code
    other = {otp.code_for(settings, otp_id, f"n{i}") for i in range(50)}
    assert len(other) > 40  # the nonce matters
    rendered = effects.code_text(
        settings, {"otp_id": str(otp_id), "nonce": "n1", "language": "en", "phone": "+91"}
    )
    assert code in rendered


def test_the_otp_sms_is_one_part_in_both_languages(settings) -> None:
    # The OTP is sent at every login; a second part would double what each one costs.
    for language in ("ta", "en"):
        payload = {"otp_id": str(uuid.uuid4()), "nonce": "n1", "language": language}
        rendered = effects.code_text(settings, payload)
        assert segments(rendered).parts == 1, rendered
    assert "OTP" in effects.code_text(settings, {**payload, "language": "ta"})


async def test_a_row_another_process_took_meanwhile_is_not_sent_again(
    engine, session_factory, settings
) -> None:
    """Rows are claimed together and sent one by one: while the first was being sent
    (a long wait for a token), the second's lease lapsed and another process claimed it
    — or an erasure deleted the third. Neither is sent by the first claimer."""
    first = await _notice(session_factory, "ஒன்று")
    second = await _notice(session_factory, "இரண்டு")
    third = await _notice(session_factory, "மூன்று")

    class Slow(RecordingOutbox):
        async def send(self, channel, address, reply, sms_template=None, *, key=None) -> None:
            if not self.sent:  # meanwhile: the sweep elsewhere, and an erasure
                async with engine.begin() as conn:
                    await conn.execute(
                        sql("UPDATE outbox SET attempts = attempts + 1 WHERE id = :i"),
                        {"i": second},
                    )
                    await conn.execute(sql("DELETE FROM outbox WHERE id = :i"), {"i": third})
            await super().send(channel, address, reply)

    ports = Slow()
    assert await effects.deliver(engine, settings, ports, [first, second, third]) == 1
    assert [body for _, _, body in ports.sent] == ["ஒன்று"]
    assert [r.id for r in await _rows(session_factory)] == [second]  # the other's to send
