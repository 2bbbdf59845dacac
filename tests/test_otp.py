"""core.services.otp: codes, their HMACs, expiry, tries and send limits (FACTS.md, OTP)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.models import OtpVerification
from core.security import keyed_hmac
from core.services import otp
from core.services.otp import OtpPurpose, OtpRefusal, OtpStatus
from tests.factories import make_member, random_phone

T0 = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)
TAMIL_DIGITS = str.maketrans("0123456789", "௦௧௨௩௪௫௬௭௮௯")


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def send(
    session: AsyncSession, settings: Settings, phone: str, at: datetime, purpose: str = "login"
) -> str:
    request = await otp.request_code(session, settings, phone, purpose, now=at)
    assert request.code is not None, request
    return request.code


async def test_code_is_stored_only_as_a_keyed_hmac(
    session: AsyncSession, settings: Settings
) -> None:
    phone = random_phone()
    request = await otp.request_code(session, settings, phone, "login", now=T0)
    assert request.code is not None and len(request.code) == 6 and request.code.isdigit()
    assert request.expires_at == T0 + timedelta(minutes=5)
    assert request.code not in repr(request)

    rows = (await session.execute(text("SELECT * FROM otp_verifications"))).mappings().all()
    assert len(rows) == 1
    assert all(request.code not in str(value) for value in rows[0].values())

    row = await session.scalar(select(OtpVerification))
    assert row is not None
    secret = settings.secret_key.get_secret_value()
    assert row.otp_hmac == keyed_hmac(secret, "otp", str(row.id), phone, "login", request.code)


async def test_same_code_hashes_differently_per_phone_and_purpose(
    session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otp.secrets, "randbelow", lambda n: 123456)
    phone_a, phone_b = random_phone(), random_phone()
    await send(session, settings, phone_a, T0)
    await send(session, settings, phone_b, T0)
    await send(session, settings, phone_a, T0, "step_up")
    hmacs = set(await session.scalars(select(OtpVerification.otp_hmac)))
    assert len(hmacs) == 3


async def test_a_code_works_only_for_its_phone_and_purpose(
    session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone_a, phone_b = random_phone(), random_phone()
    monkeypatch.setattr(otp.secrets, "randbelow", lambda n: 111111)
    await send(session, settings, phone_a, T0)
    monkeypatch.setattr(otp.secrets, "randbelow", lambda n: 222222)
    await send(session, settings, phone_b, T0)

    check = await otp.check_code(session, settings, phone_b, "login", "111111", now=T0)
    assert check.status is OtpStatus.WRONG
    check = await otp.check_code(session, settings, phone_a, "step_up", "111111", now=T0)
    assert check.status is OtpStatus.NO_CODE

    # Even copying A's stored HMAC onto B's row does not make A's code work for B.
    row_a, row_b = [
        await session.scalar(select(OtpVerification).where(OtpVerification.phone == p))
        for p in (phone_a, phone_b)
    ]
    assert row_a is not None and row_b is not None
    row_b.otp_hmac = row_a.otp_hmac
    await session.flush()
    check = await otp.check_code(session, settings, phone_b, "login", "111111", now=T0)
    assert check.status is OtpStatus.WRONG


async def test_right_code_works_once(session: AsyncSession, settings: Settings) -> None:
    phone = random_phone()
    code = await send(session, settings, phone, T0)
    check = await otp.check_code(
        session, settings, phone, "login", code, now=T0 + timedelta(minutes=1)
    )
    assert check.ok and check.status is OtpStatus.OK
    again = await otp.check_code(
        session, settings, phone, "login", code, now=T0 + timedelta(minutes=2)
    )
    assert again.status is OtpStatus.NO_CODE


async def test_code_typed_in_tamil_digits_or_with_spaces(
    session: AsyncSession, settings: Settings
) -> None:
    phone = random_phone()
    code = await send(session, settings, phone, T0)
    assert (
        await otp.check_code(
            session, settings, phone, "login", code.translate(TAMIL_DIGITS), now=T0
        )
    ).ok
    code = await send(session, settings, phone, T0 + timedelta(seconds=1))
    spaced = f" {code[:3]} {code[3:]} "
    assert (
        await otp.check_code(
            session, settings, phone, "login", spaced, now=T0 + timedelta(seconds=1)
        )
    ).ok


async def test_code_expires_after_five_minutes(session: AsyncSession, settings: Settings) -> None:
    phone_a, phone_b = random_phone(), random_phone()
    code_a = await send(session, settings, phone_a, T0)
    code_b = await send(session, settings, phone_b, T0)
    just_in_time = T0 + timedelta(minutes=5) - timedelta(seconds=1)
    assert (await otp.check_code(session, settings, phone_a, "login", code_a, now=just_in_time)).ok
    late = T0 + timedelta(minutes=5)
    check = await otp.check_code(session, settings, phone_b, "login", code_b, now=late)
    assert check.status is OtpStatus.EXPIRED


async def test_five_wrong_tries_lock_the_code(session: AsyncSession, settings: Settings) -> None:
    phone = random_phone()
    code = await send(session, settings, phone, T0)
    wrong = other_code(code)
    left = []
    for _ in range(4):
        check = await otp.check_code(session, settings, phone, "login", wrong, now=T0)
        assert check.status is OtpStatus.WRONG
        left.append(check.attempts_left)
    assert left == [4, 3, 2, 1]
    fifth = await otp.check_code(session, settings, phone, "login", wrong, now=T0)
    assert fifth.status is OtpStatus.TOO_MANY_ATTEMPTS
    right = await otp.check_code(session, settings, phone, "login", code, now=T0)
    assert right.status is OtpStatus.TOO_MANY_ATTEMPTS
    row = await session.scalar(select(OtpVerification).where(OtpVerification.phone == phone))
    assert row is not None and row.attempts == 5 and row.verified_at is None


async def test_text_that_is_not_a_code_uses_no_try(
    session: AsyncSession, settings: Settings
) -> None:
    phone = random_phone()
    code = await send(session, settings, phone, T0)
    for typed in ("hello", "12345", "1234567", ""):
        check = await otp.check_code(session, settings, phone, "login", typed, now=T0)
        assert check.status is OtpStatus.WRONG and check.attempts_left == 5
    assert (await otp.check_code(session, settings, phone, "login", code, now=T0)).ok


async def test_only_the_newest_code_counts(session: AsyncSession, settings: Settings) -> None:
    phone = random_phone()
    first = await send(session, settings, phone, T0)
    second = await send(session, settings, phone, T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=2)
    if first != second:
        check = await otp.check_code(session, settings, phone, "login", first, now=later)
        assert check.status is OtpStatus.WRONG
    assert (await otp.check_code(session, settings, phone, "login", second, now=later)).ok


async def test_no_code_sent(session: AsyncSession, settings: Settings) -> None:
    check = await otp.check_code(session, settings, random_phone(), "login", "123456", now=T0)
    assert check.status is OtpStatus.NO_CODE and not check.ok


async def test_fourth_send_in_ten_minutes_is_refused(
    session: AsyncSession, settings: Settings
) -> None:
    phone = random_phone()
    for minute in (0, 1, 2):
        await send(session, settings, phone, T0 + timedelta(minutes=minute))
    fourth = await otp.request_code(
        session, settings, phone, "login", now=T0 + timedelta(minutes=3)
    )
    assert fourth.code is None and fourth.refused
    assert fourth.refusal is OtpRefusal.RATE_LIMITED
    assert fourth.retry_at == T0 + timedelta(minutes=10)
    # the step-up has a budget of its own (security review H2): asking for other codes
    # to someone's number cannot lock them out of it
    step_up = await otp.request_code(
        session, settings, phone, "step_up", now=T0 + timedelta(minutes=4)
    )
    assert not step_up.refused
    # ten minutes after the first, one more is allowed
    await send(session, settings, phone, T0 + timedelta(minutes=10))


async def test_eleventh_send_in_a_day_is_refused(session: AsyncSession, settings: Settings) -> None:
    phone = random_phone()
    for n in range(10):
        await send(session, settings, phone, T0 + timedelta(minutes=11 * n))
    eleventh = await otp.request_code(
        session, settings, phone, "login", now=T0 + timedelta(hours=3)
    )
    assert eleventh.refused and eleventh.code is None
    assert eleventh.retry_at == T0 + timedelta(hours=24)
    await send(session, settings, phone, T0 + timedelta(hours=24))


async def test_send_limit_holds_across_concurrent_sessions(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    phone = random_phone()

    async def one_request(second: int) -> otp.OtpRequest:
        async with session_factory() as s, s.begin():
            return await otp.request_code(
                s, settings, phone, "login", now=T0 + timedelta(seconds=second)
            )

    results = await asyncio.gather(*(one_request(0) for _ in range(6)))
    assert sum(1 for r in results if r.code is not None) == 3
    assert sum(1 for r in results if r.refused) == 3


async def test_same_answer_whether_or_not_the_phone_is_a_member(
    session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(session)
    stranger = random_phone()

    def shape(request: otp.OtpRequest) -> otp.OtpRequest:
        assert request.code is None or (len(request.code) == 6 and request.code.isdigit())
        issued = request.code is not None
        return dataclasses.replace(
            request,
            code="<code>" if issued else None,
            otp_id=None,
            nonce="<nonce>" if issued else None,
        )

    for minute in range(4):  # three codes, then a refusal, for both
        at = T0 + timedelta(minutes=minute)
        known = await otp.request_code(session, settings, member.phone, "login", now=at)
        unknown = await otp.request_code(session, settings, stranger, "login", now=at)
        assert shape(known) == shape(unknown)

    known_check = await otp.check_code(
        session, settings, member.phone, "login", "000000", now=T0 + timedelta(minutes=4)
    )
    unknown_check = await otp.check_code(
        session, settings, stranger, "login", "000000", now=T0 + timedelta(minutes=4)
    )
    if known_check.status is OtpStatus.WRONG and unknown_check.status is OtpStatus.WRONG:
        assert known_check == unknown_check


async def test_step_up_is_fresh_only_within_the_window(
    session: AsyncSession, settings: Settings
) -> None:
    phone = random_phone()
    window = timedelta(minutes=10)
    assert not await otp.step_up_valid(session, phone, within=window, now=T0)

    login = await send(session, settings, phone, T0, "login")
    assert (await otp.check_code(session, settings, phone, OtpPurpose.LOGIN, login, now=T0)).ok
    assert not await otp.step_up_valid(
        session, phone, within=window, now=T0
    )  # login is not step-up

    code = await send(session, settings, phone, T0 + timedelta(minutes=1), "step_up")
    verified_at = T0 + timedelta(minutes=2)
    assert (await otp.check_code(session, settings, phone, "step_up", code, now=verified_at)).ok
    assert await otp.step_up_valid(
        session, phone, within=window, now=verified_at + timedelta(minutes=9)
    )
    assert not await otp.step_up_valid(
        session, phone, within=window, now=verified_at + timedelta(minutes=11)
    )
    assert not await otp.step_up_valid(session, random_phone(), within=window, now=verified_at)


async def test_unknown_purpose_is_a_programming_error(
    session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(ValueError):
        await otp.request_code(session, settings, random_phone(), "registration", now=T0)
