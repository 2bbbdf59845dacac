"""One-time codes sent by SMS/WhatsApp to prove a phone (FACTS.md, "OTP").

- 6 digits derived from a random nonce from :mod:`secrets` under the server secret
  (:func:`code_for`), valid ``settings.otp_ttl_minutes`` (5), single use.
- Only a keyed HMAC is stored (``otp_verifications.otp_hmac``), bound to the row id,
  the phone and the purpose: a dump of the table yields no code, and a code is good
  only for the phone and purpose it was sent for.
- At most ``settings.otp_max_attempts`` (5) wrong tries per code; only the newest code
  for a (phone, purpose) counts.
- At most ``otp_max_sends_10min`` (3) sends per 10 minutes and ``otp_max_sends_day``
  (10) per rolling 24 hours per phone, counted from the rows themselves under a
  per-phone transaction lock, so the limits hold across processes. The step-up has a
  budget of its own: strangers asking for link codes to an official's number cannot
  lock the official out of announcing (security review H2). The same split holds for
  ``otp_max_wrong_day``: wrong codes typed across codes lock a number and purpose.
- Abuse (SMS pumping, harassment): codes go only to ``otp_allowed_country_codes``
  (``+91``); one requester (a chat, or the number writing) may ask for
  ``otp_requester_max_hour`` / ``_day`` codes to any numbers; past
  ``otp_daily_ceiling`` codes in a day, none is sent and an alert is raised.
- Nothing here looks at members: the answer is the same whether or not the phone
  belongs to one.

Nothing commits; the caller commits, then sends :attr:`OtpRequest.code` — or, through
the outbox (core/effects.py), keeps only ``otp_id`` and ``nonce`` and derives the code
again at send time, so no table or queue ever holds a code.
"""

from __future__ import annotations

import enum
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.metrics import OTP_REFUSALS
from core.models.auth import OtpVerification
from core.security import keyed_hmac, same_digest
from core.validation import ascii_digits

log = logging.getLogger(__name__)

CODE_DIGITS = 6
SHORT_WINDOW = timedelta(minutes=10)
LONG_WINDOW = timedelta(hours=24)


class OtpPurpose(enum.StrEnum):
    LOGIN = "login"
    LINK_TELEGRAM = "link_telegram"
    STEP_UP = "step_up"
    """A fresh proof before voting or changing the phone number (see step_up_valid)."""


class OtpRefusal(enum.StrEnum):
    RATE_LIMITED = "rate_limited"
    """This number had too many codes lately."""
    REQUESTER_LIMITED = "requester_limited"
    """Whoever is asking asked for too many codes lately, to any numbers."""
    COUNTRY = "country"
    """Codes are not sent to this country."""
    LOCKED = "locked"
    """Too many wrong codes were typed for this number lately."""
    CEILING = "ceiling"
    """Every code the service may send today has been sent."""


@dataclass(frozen=True, slots=True)
class OtpRequest:
    """Either a code to send (``code`` set) or a refusal (``refusal`` and ``retry_at``)."""

    code: str | None = field(repr=False)
    """The plain code, to be sent after commit; it exists nowhere else."""
    otp_id: uuid.UUID | None = None
    nonce: str | None = field(default=None, repr=False)
    """With ``otp_id``, what derives the code again (:func:`code_for`)."""
    expires_at: datetime | None = None
    refusal: OtpRefusal | None = None
    retry_at: datetime | None = None
    """When a new code may be asked for, if refused."""

    @property
    def refused(self) -> bool:
        return self.refusal is not None


class OtpStatus(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    """This code is locked: ask for a new one."""
    LOCKED = "locked"
    """Too many wrong codes for this number lately, across codes: no more tries today."""
    NO_CODE = "no_code"
    """Nothing was sent for this phone and purpose, or the code was already used."""


@dataclass(frozen=True, slots=True)
class OtpCheck:
    status: OtpStatus
    attempts_left: int = 0
    """After a WRONG answer, how many more tries this code allows (at least 1)."""

    @property
    def ok(self) -> bool:
        return self.status is OtpStatus.OK


def _code_hmac(settings: Settings, otp_id: uuid.UUID, phone: str, purpose: str, code: str) -> str:
    return keyed_hmac(
        settings.secret_key.get_secret_value(), "otp", str(otp_id), phone, purpose, code
    )


def code_for(settings: Settings, otp_id: uuid.UUID, nonce: str) -> str:
    """The code of OTP row ``otp_id``, from its nonce: uniform over the 10⁶ codes (a
    256-bit HMAC reduced mod 10⁶) and unknowable without the server secret."""
    digest = keyed_hmac(settings.secret_key.get_secret_value(), "otp-code", str(otp_id), nonce)
    return f"{int(digest, 16) % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


async def _lock_phone(session: AsyncSession, phone: str) -> None:
    """Serialise code requests for one phone until the caller's transaction ends."""
    key = func.hashtextextended("otp:" + phone, 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


def _same_budget(purpose: OtpPurpose) -> Any:
    """The rows that share ``purpose``'s per-number budget: the step-up's own, or every
    other purpose's together."""
    if purpose is OtpPurpose.STEP_UP:
        return OtpVerification.purpose == OtpPurpose.STEP_UP.value
    return OtpVerification.purpose != OtpPurpose.STEP_UP.value


def requester_key(settings: Settings, channel: str, address: str) -> str:
    """Who asked, as stored: a keyed HMAC of the chat or number, never the address."""
    return keyed_hmac(settings.secret_key.get_secret_value(), "otp-requester", channel, address)


async def _wrong_lately(
    session: AsyncSession, phone: str, purpose: OtpPurpose, now: datetime
) -> tuple[int, datetime | None]:
    """Wrong codes typed for (phone, purpose's budget) in the last day, and when the
    oldest of them leaves that day."""
    found = (
        await session.execute(
            select(
                func.coalesce(func.sum(OtpVerification.attempts), 0),
                func.min(OtpVerification.created_at),
            ).where(
                OtpVerification.phone == phone,
                _same_budget(purpose),
                OtpVerification.attempts > 0,
                OtpVerification.created_at > now - LONG_WINDOW,
                OtpVerification.created_at <= now,
            )
        )
    ).one()
    oldest = found[1]
    return int(found[0] or 0), (oldest + LONG_WINDOW if oldest else None)


async def _count_since(
    session: AsyncSession, since: datetime, now: datetime, *where: Any
) -> list[datetime]:
    rows = await session.scalars(
        select(OtpVerification.created_at)
        .where(*where, OtpVerification.created_at > since, OtpVerification.created_at <= now)
        .order_by(OtpVerification.created_at)
    )
    return [t for t in rows if t is not None]


def _retry_at(sent: list[datetime], limit: int, window: timedelta) -> datetime | None:
    """``sent`` ascending, all inside ``window``: when the count drops below ``limit``."""
    if len(sent) < limit:
        return None
    return sent[len(sent) - limit] + window


async def request_code(
    session: AsyncSession,
    settings: Settings,
    phone: str,
    purpose: OtpPurpose | str,
    *,
    now: datetime,
    requester: str | None = None,
) -> OtpRequest:
    """Issue a new code for ``phone`` (E.164) and ``purpose``, unless a limit says no
    (:class:`OtpRefusal`). ``requester`` is :func:`requester_key` of the chat or number
    asking. The caller commits, then sends ``result.code``."""
    purpose = OtpPurpose(purpose)
    if not phone.startswith(settings.otp_prefixes):
        return _refused(OtpRefusal.COUNTRY, None)
    await _lock_phone(session, phone)

    sent_at = await _count_since(
        session, now - LONG_WINDOW, now, OtpVerification.phone == phone, _same_budget(purpose)
    )
    recent = [t for t in sent_at if t > now - SHORT_WINDOW]
    waits = [
        t
        for t in (
            _retry_at(recent, settings.otp_max_sends_10min, SHORT_WINDOW),
            _retry_at(sent_at, settings.otp_max_sends_day, LONG_WINDOW),
        )
        if t is not None
    ]
    if waits:
        return _refused(OtpRefusal.RATE_LIMITED, max(waits))

    wrong, unlocked_at = await _wrong_lately(session, phone, purpose, now)
    if wrong >= settings.otp_max_wrong_day:
        return _refused(OtpRefusal.LOCKED, unlocked_at)

    if requester is not None:
        asked = await _count_since(
            session, now - LONG_WINDOW, now, OtpVerification.requested_by == requester
        )
        asked_recently = [t for t in asked if t > now - timedelta(hours=1)]
        waits = [
            t
            for t in (
                _retry_at(asked_recently, settings.otp_requester_max_hour, timedelta(hours=1)),
                _retry_at(asked, settings.otp_requester_max_day, LONG_WINDOW),
            )
            if t is not None
        ]
        if waits:
            return _refused(OtpRefusal.REQUESTER_LIMITED, max(waits))

    today = await session.scalar(
        select(func.count())
        .select_from(OtpVerification)
        .where(OtpVerification.created_at > now - LONG_WINDOW)
    )
    if (today or 0) >= settings.otp_daily_ceiling:
        log.error(
            "OTP ceiling reached: %d codes in 24 h (VCK_OTP_DAILY_CEILING); no code is sent"
            " until the count drops. Look for SMS pumping before raising it.",
            today,
        )
        return _refused(OtpRefusal.CEILING, None)

    otp_id = uuid.uuid4()
    nonce = secrets.token_hex(16)
    code = code_for(settings, otp_id, nonce)
    expires_at = now + timedelta(minutes=settings.otp_ttl_minutes)
    session.add(
        OtpVerification(
            id=otp_id,
            phone=phone,
            otp_hmac=_code_hmac(settings, otp_id, phone, purpose.value, code),
            purpose=purpose.value,
            expires_at=expires_at,
            attempts=0,
            created_at=now,
            requested_by=requester,
        )
    )
    await session.flush()
    return OtpRequest(code=code, otp_id=otp_id, nonce=nonce, expires_at=expires_at)


def _refused(reason: OtpRefusal, retry_at: datetime | None) -> OtpRequest:
    OTP_REFUSALS.labels(reason.value).inc()
    return OtpRequest(code=None, refusal=reason, retry_at=retry_at)


async def check_code(
    session: AsyncSession,
    settings: Settings,
    phone: str,
    purpose: OtpPurpose | str,
    code: str,
    *,
    now: datetime,
) -> OtpCheck:
    """Check what the member typed against the newest code for (phone, purpose).

    The code may be typed with spaces or in Tamil digits. Input that is not six digits
    at all answers WRONG without using up a try. The fifth wrong try answers
    TOO_MANY_ATTEMPTS at once."""
    purpose = OtpPurpose(purpose)
    row = await session.scalar(
        select(OtpVerification)
        .where(
            OtpVerification.phone == phone,
            OtpVerification.purpose == purpose.value,
            OtpVerification.created_at <= now,
        )
        .order_by(OtpVerification.created_at.desc(), OtpVerification.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.verified_at is not None:
        return OtpCheck(OtpStatus.NO_CODE)
    if now >= row.expires_at:
        return OtpCheck(OtpStatus.EXPIRED)
    attempts = row.attempts or 0
    max_attempts = settings.otp_max_attempts
    if attempts >= max_attempts:
        return OtpCheck(OtpStatus.TOO_MANY_ATTEMPTS)
    wrong, _ = await _wrong_lately(session, phone, purpose, now)
    if wrong >= settings.otp_max_wrong_day:
        return OtpCheck(OtpStatus.LOCKED)

    typed = ascii_digits(code).replace(" ", "").replace("-", "")
    if len(typed) != CODE_DIGITS or not typed.isascii() or not typed.isdigit():
        return OtpCheck(OtpStatus.WRONG, attempts_left=max_attempts - attempts)

    if same_digest(_code_hmac(settings, row.id, phone, purpose.value, typed), row.otp_hmac):
        row.verified_at = now
        await session.flush()
        return OtpCheck(OtpStatus.OK)

    row.attempts = attempts + 1
    await session.flush()
    if wrong + 1 >= settings.otp_max_wrong_day:
        return OtpCheck(OtpStatus.LOCKED)
    if row.attempts >= max_attempts:
        return OtpCheck(OtpStatus.TOO_MANY_ATTEMPTS)
    return OtpCheck(OtpStatus.WRONG, attempts_left=max_attempts - row.attempts)


async def step_up_valid(
    session: AsyncSession, phone: str, *, within: timedelta, now: datetime
) -> bool:
    """True when a 'step_up' code for ``phone`` was verified within ``within`` before
    ``now``: the "fresh OTP" that voting and changing the phone number ask for."""
    found = await session.scalar(
        select(OtpVerification.id)
        .where(
            OtpVerification.phone == phone,
            OtpVerification.purpose == OtpPurpose.STEP_UP.value,
            OtpVerification.verified_at >= now - within,
            OtpVerification.verified_at <= now,
        )
        .limit(1)
    )
    return found is not None
