"""OTP abuse (security review H2): codes only to allowed countries, limited per
requester as well as per number, the step-up on a budget of its own, a number locked
after too many wrong codes across codes, and a daily ceiling that stops and alerts."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from core.channels.base import Channel
from core.config import Settings
from core.metrics import OTP_REFUSALS
from core.services import otp
from core.services.otp import OtpRefusal, OtpStatus

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
CODE = re.compile(r"\b(\d{6})\b")
OFFICIAL = "+12025550102"  # the Chennai district secretary (demo data)


def _requester(settings, chat: str = "5550001") -> str:
    return otp.requester_key(settings, "telegram", chat)


def test_by_default_codes_go_to_india_only() -> None:
    assert Settings.model_fields["otp_allowed_country_codes"].default == "+91"


async def test_codes_go_only_to_allowed_countries(session, settings) -> None:
    foreign = await otp.request_code(session, settings, "+442079460123", "login", now=T0)
    assert foreign.code is None and foreign.refusal is OtpRefusal.COUNTRY
    indian = await otp.request_code(session, settings, "+919840012345", "login", now=T0)
    assert indian.code is not None
    assert settings.otp_prefixes == ("+91", "+1")  # the suite lets the demo's +1 through
    wider = settings.model_copy(update={"otp_allowed_country_codes": "+91, +65"})
    assert (await otp.request_code(session, wider, "+6581234567", "login", now=T0)).code


async def test_one_chat_asking_for_codes_to_50_numbers_is_stopped(session, settings) -> None:
    chat = _requester(settings)
    issued = refused = 0
    for i in range(50):
        phone = f"+9198400{i:05d}"
        at = T0 + timedelta(seconds=i)
        request = await otp.request_code(
            session, settings, phone, "link_telegram", now=at, requester=chat
        )
        if request.code:
            issued += 1
        else:
            assert request.refusal is OtpRefusal.REQUESTER_LIMITED
            assert request.retry_at is not None and request.retry_at > at
            refused += 1
    assert issued == settings.otp_requester_max_hour and refused == 50 - issued
    # Another chat is not held back by the first one's abuse.
    other = await otp.request_code(
        session, settings, "+919840099999", "link_telegram", now=T0, requester=_requester(
            settings, "5550002")
    )  # fmt: skip
    assert other.code is not None


async def test_strangers_asking_for_an_officials_number_do_not_block_the_step_up(
    session, settings
) -> None:
    for i in range(settings.otp_max_sends_day):
        await otp.request_code(
            session, settings, OFFICIAL, "link_telegram", now=T0 + timedelta(hours=i),
            requester=_requester(settings, f"9{i}"),
        )  # fmt: skip
    later = T0 + timedelta(hours=settings.otp_max_sends_day)
    link = await otp.request_code(session, settings, OFFICIAL, "link_telegram", now=later)
    assert link.refusal is OtpRefusal.RATE_LIMITED
    step_up = await otp.request_code(session, settings, OFFICIAL, "step_up", now=later)
    assert step_up.code is not None


async def test_wrong_codes_across_codes_lock_the_number_for_the_day(session, settings) -> None:
    phone = "+919840012345"
    tries = settings.otp_max_attempts
    statuses = []
    for n in range(settings.otp_max_wrong_day // tries):
        at = T0 + timedelta(minutes=n)
        sent = await otp.request_code(session, settings, phone, "link_telegram", now=at)
        assert sent.code is not None
        wrong = "000000" if sent.code != "000000" else "111111"
        for _ in range(tries):
            statuses.append((await otp.check_code(
                session, settings, phone, "link_telegram", wrong, now=at)).status)  # fmt: skip
    assert statuses[-1] is OtpStatus.LOCKED
    later = T0 + timedelta(hours=1)
    again = await otp.request_code(session, settings, phone, "link_telegram", now=later)
    assert again.refusal is OtpRefusal.LOCKED
    assert again.retry_at == T0 + timedelta(hours=24)
    # The step-up's budget is its own: someone guessing link codes cannot lock it.
    assert (await otp.request_code(session, settings, phone, "step_up", now=later)).code
    tomorrow = T0 + timedelta(hours=25)
    assert (await otp.request_code(session, settings, phone, "link_telegram", now=tomorrow)).code


async def test_the_daily_ceiling_stops_every_code_and_alerts(session, settings, caplog) -> None:
    tight = settings.model_copy(update={"otp_daily_ceiling": 3})
    before = OTP_REFUSALS.labels("ceiling")._value.get()
    for i in range(3):
        sent = await otp.request_code(session, tight, f"+91984000000{i}", "login", now=T0)
        assert sent.code is not None
    with caplog.at_level(logging.ERROR, logger="core.services.otp"):
        stopped = await otp.request_code(session, tight, "+919840000009", "login", now=T0)
    assert stopped.refusal is OtpRefusal.CEILING
    assert any("OTP ceiling reached" in r.getMessage() for r in caplog.records)
    assert "+91" not in caplog.text  # the alert names no number
    assert OTP_REFUSALS.labels("ceiling")._value.get() == before + 1
    next_day = T0 + timedelta(hours=24, seconds=1)
    assert (await otp.request_code(session, tight, "+919840000009", "login", now=next_day)).code


async def test_a_telegram_chat_typing_many_numbers_is_told_to_wait(member, providers) -> None:
    """Through the webhook: the chat that pumps codes is refused politely; the numbers
    it typed after the limit get no SMS."""
    m = member(Channel.TELEGRAM, "7770001")
    # 27 messages in a few seconds: not the flood limit under test here.
    m.bot.settings = m.bot.settings.model_copy(update={"inbound_limit_messages": 0})
    await m.says("/start")
    await m.says(button="en")
    await m.says(button="agree")
    sent_to = []
    answers = []
    for i in range(8):
        await m.says("menu")
        await m.says(button="link")
        phone = f"+9198400{i:05d}"
        answers.append(await m.says(phone))
        sent_to.append(bool(providers.sms_to(phone)))
    assert sent_to == [True] * 5 + [False] * 3
    assert "too many codes" in answers[-1]
    assert "India" in await _foreign(m)  # the default is India only; tests add +1


async def _foreign(m) -> str:
    await m.says("menu")
    await m.says(button="link")
    return await m.says("+442079460123")
