"""After-commit effects, through a transactional outbox.

What a conversation step must do once its transaction has committed — send an OTP code,
tell an official about a signup, schedule an announcement's publish, forget a member's
half-typed answers on their other channels — is written as a row of ``outbox`` *in that
same transaction* (:func:`record`). So the effect exists exactly when the step's
writes do: a rolled-back step leaves none, a committed one always has its row.

The process that handled the message delivers its rows at once (:func:`deliver`); the
worker's sweep (:func:`deliver_due`) delivers what is left — a process that crashed
between the commit and the send, a Redis or provider outage — a little later. A row is
claimed before it is acted on and deleted after, so two processes never act on one row
at the same time; a crash after the send and before the delete repeats that one effect
(a second OTP SMS, a second notice), never loses it.

No OTP code is stored: the row keeps the OTP row's id and a random nonce, and the code
is derived again at send time (:func:`core.services.otp.code_for`), so neither this
table nor any queue holds a code.

A reply to the member writing that a provider refused for now (core.outbound.NowOrQueued)
is a row here too (:func:`record_reply`, kind ``reply``): the priority lane's job carries
only the row's id and sends it with :func:`deliver_one`; the sweep sends it if the job
was lost. So the number and the text stay in PostgreSQL — where an erasure deletes
them (core/services/privacy.py) — and never sit in Redis; the row is deleted once sent.
"""

from __future__ import annotations

import enum
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.channels.base import Channel, Outcome, Reply, SendError
from core.config import Settings
from core.i18n import Language, _, use_language
from core.services import otp

log = logging.getLogger(__name__)

FIRST_TRY_GRACE = timedelta(seconds=20)
"""How long the sweep leaves a new row to the process that wrote it."""
LEASE = timedelta(seconds=60)
"""How long a claimed row is left to its claimer before the sweep may take it again.
Renewed right before each send, which must end well within it: a send waits at most
:data:`TOKEN_WAIT` for its rate token and the provider's timeout for its answer."""
TOKEN_WAIT = timedelta(seconds=30)
"""How long an effect waits for its sender's token in the worker before it is retried
later (a provider's ``Retry-After`` holds the bucket), so its lease never lapses."""
MAX_ATTEMPTS = 10
"""Tries before an effect is given up (logged; the backoff spans about an hour)."""


class Kind(enum.StrEnum):
    CODE_SMS = "code_sms"
    NOTICE = "notice"
    PUBLISH = "publish"
    REPLY = "reply"


class Ports(Protocol):
    """How an effect leaves the process; the bot and the worker each fill it."""

    async def send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        sms_template: str | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """``key``: the message's idempotency key (a new one when None)."""
        ...

    async def send_sms(self, phone: str, text: str, *, template: str) -> None: ...

    async def send_template(
        self, address: str, content_sid: str, variables: dict[str, str], *, daily_limit: int
    ) -> bool:
        """An approved WhatsApp template; False (nothing sent) when the WhatsApp tier
        (``daily_limit`` unique recipients a rolling day) has no room for this member."""
        ...

    async def schedule_publish(
        self, announcement_id: uuid.UUID, publish_at: datetime | None
    ) -> None: ...


# --- writing, inside the step's transaction -------------------------------------------

_INSERT = text(
    "INSERT INTO outbox (kind, payload, available_at)"
    " VALUES (:kind, CAST(:payload AS jsonb), :at) RETURNING id"
)


async def record(
    session: AsyncSession, kind: Kind, payload: dict[str, Any], *, now: datetime
) -> int:
    """Write one effect in the caller's transaction; its id, to deliver after commit."""
    row_id = await session.scalar(
        _INSERT, {"kind": kind.value, "payload": json.dumps(payload), "at": now + FIRST_TRY_GRACE}
    )
    assert row_id is not None
    return int(row_id)


_SOON = "vck_effects_soon"


async def record_soon(
    session: AsyncSession, kind: Kind, payload: dict[str, Any], *, now: datetime
) -> int:
    """:func:`record`, and the id noted on the session, so a conversation step that
    called the service delivers it at once after its commit (:func:`written_soon`);
    elsewhere (the worker, the CLI) the sweep delivers it."""
    row_id = await record(session, kind, payload, now=now)
    session.info.setdefault(_SOON, []).append(row_id)
    return row_id


def written_soon(session: AsyncSession) -> list[int]:
    """The ids :func:`record_soon` noted on ``session``, taken (once)."""
    return list(session.info.pop(_SOON, ()))


def code_sms(request: otp.OtpRequest, phone: str, language: Language) -> dict[str, Any]:
    """The payload of an OTP code's SMS: ids and a nonce, never the code."""
    assert request.otp_id is not None and request.nonce is not None
    return {
        "phone": phone,
        "otp_id": str(request.otp_id),
        "nonce": request.nonce,
        "language": language.value,
    }


def notice(
    channel: Channel,
    address: str,
    reply_text: str,
    *,
    template: dict[str, Any] | None = None,
    fallback: tuple[Channel, str] | None = None,
) -> dict[str, Any]:
    """A notice to one person. With ``template`` ({"sid", "variables"}: a WhatsApp
    utility template, core/notice_templates.py) it goes as that template to the WhatsApp
    ``address``, and ``reply_text`` to ``fallback`` when the template cannot go."""
    payload: dict[str, Any] = {"channel": channel.value, "address": address, "text": reply_text}
    if template is not None:
        payload["template"] = template
        payload["fallback"] = (
            {"channel": fallback[0].value, "address": fallback[1]} if fallback else None
        )
    return payload


def reply(
    channel: Channel, address: str, message: Reply, *, key: str, sms_template: str | None
) -> dict[str, Any]:
    """A reply to the member writing, with every field and the key it was first sent with."""
    return {
        "channel": channel.value,
        "address": address,
        "reply": message.to_dict(),
        "key": key,
        "sms_template": sms_template,
    }


async def record_reply(
    db: AsyncEngine,
    channel: Channel,
    address: str,
    message: Reply,
    *,
    key: str,
    sms_template: str | None = None,
) -> int:
    """A reply the providers refused for now, in its own transaction; its id, for the
    priority lane's job. The sweep sends it after :data:`FIRST_TRY_GRACE` if no job did."""
    payload = reply(channel, address, message, key=key, sms_template=sms_template)
    async with db.begin() as conn:
        row_id = await conn.scalar(
            text(
                "INSERT INTO outbox (kind, payload, available_at)"
                " VALUES (:kind, CAST(:payload AS jsonb), now() + :grace) RETURNING id"
            ),
            {"kind": Kind.REPLY.value, "payload": json.dumps(payload), "grace": FIRST_TRY_GRACE},
        )
    assert row_id is not None
    return int(row_id)


def publish(announcement_id: uuid.UUID, publish_at: datetime | None) -> dict[str, Any]:
    return {
        "announcement_id": str(announcement_id),
        "publish_at": publish_at.isoformat() if publish_at else None,
    }


# --- acting on them ----------------------------------------------------------------------


def code_text(settings: Settings, payload: dict[str, Any]) -> str:
    """The OTP SMS, rendered in the member's language with the code derived again."""
    code = otp.code_for(settings, uuid.UUID(payload["otp_id"]), payload["nonce"])
    with use_language(Language(payload["language"])):
        # TRANSLATORS: the OTP SMS: one part, so at most 70 characters with the code filled
        # in. It must match the DLT template (otp_ta) registered for it, word for word.
        return _(
            "{code} is your VCK Connect code. It is valid for {minutes} minutes. "
            "Do not share it with anyone."
        ).format(code=code, minutes=settings.otp_ttl_minutes)


async def perform(settings: Settings, ports: Ports, kind: str, payload: dict[str, Any]) -> None:
    """Do one effect; raises what the port raises."""
    if kind == Kind.CODE_SMS:
        template = f"otp_{payload['language']}"
        await ports.send_sms(payload["phone"], code_text(settings, payload), template=template)
    elif kind == Kind.NOTICE:
        if payload.get("template"):
            await _template_notice(settings, ports, payload)
        else:
            await ports.send(
                Channel(payload["channel"]), payload["address"], Reply(payload["text"])
            )
    elif kind == Kind.REPLY:
        await ports.send(
            Channel(payload["channel"]),
            payload["address"],
            Reply.from_dict(payload["reply"]),
            payload.get("sms_template"),
            key=payload["key"],
        )
    elif kind == Kind.PUBLISH:
        at = payload["publish_at"]
        await ports.schedule_publish(
            uuid.UUID(payload["announcement_id"]), datetime.fromisoformat(at) if at else None
        )
    else:
        raise ValueError(f"unknown effect {kind!r}")


async def _template_notice(settings: Settings, ports: Ports, payload: dict[str, Any]) -> None:
    """The template when the tier has room and Twilio takes it, else the free text to the
    fallback (Telegram, SMS); nothing when there is none."""
    template = payload["template"]
    try:
        if await ports.send_template(
            payload["address"],
            template["sid"],
            dict(template["variables"]),
            daily_limit=settings.whatsapp_daily_unique_limit,
        ):
            return
        why = "the WhatsApp tier is spent"
    except SendError as exc:
        if not exc.permanent:
            raise
        if exc.outcome is Outcome.OPTED_OUT:  # STOP: no other channel either
            log.info("notice not sent: the member opted out on WhatsApp")
            return
        why = f"the template was refused ({exc.code})"
    fallback = payload.get("fallback")
    if not fallback:
        log.warning("notice not sent: %s and the member has no other channel", why)
        return
    log.info("notice sent by %s instead: %s", fallback["channel"], why)
    await ports.send(Channel(fallback["channel"]), fallback["address"], Reply(payload["text"]))


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


_CLAIM_MINE = text(
    "UPDATE outbox SET attempts = attempts + 1, available_at = now() + :lease"
    " WHERE id = ANY(:ids) AND attempts = 0 RETURNING id, kind, payload, attempts"
)
_CLAIM_DUE = text(
    "UPDATE outbox SET attempts = attempts + 1, available_at = now() + :lease"
    " WHERE id IN (SELECT id FROM outbox WHERE available_at <= now()"
    "              ORDER BY available_at LIMIT :limit FOR UPDATE SKIP LOCKED)"
    " RETURNING id, kind, payload, attempts"
)
_CLAIM_ONE = text(
    "UPDATE outbox SET attempts = attempts + 1, available_at = now() + :lease"
    " WHERE id = :id AND (attempts = 0 OR available_at <= now())"
    " RETURNING id, kind, payload, attempts"
)
_RENEW = text(
    "UPDATE outbox SET available_at = now() + :lease"
    " WHERE id = :id AND attempts = :attempts RETURNING id"
)
_NEXT = text("SELECT available_at FROM outbox WHERE id = :id")
_DONE = text("DELETE FROM outbox WHERE id = :id")
_AGAIN = text("UPDATE outbox SET available_at = now() + :wait, last_error = :error WHERE id = :id")


def _backoff(attempts: int, retry_after: float | None, kind: str = "") -> timedelta:
    # A reply's member is waiting for it: a 429 usually clears within a second.
    base, cap = (0.5, 30.0) if kind == Kind.REPLY else (5.0, 900.0)
    seconds = min(cap, base * 2 ** (attempts - 1))
    return timedelta(seconds=max(seconds, retry_after or 0.0))


async def _run(db: AsyncEngine, settings: Settings, ports: Ports, rows: Iterable[Claimed]) -> int:
    done = 0
    for row in rows:
        # Still ours, for a whole lease from now: rows are claimed together and acted on
        # one by one, so a later one may have waited long enough for its lease to lapse
        # and another process to claim it (then attempts moved on), or an erasure may
        # have deleted it. Either way it is not ours to send.
        async with db.begin() as conn:
            ours = await conn.scalar(
                _RENEW, {"id": row.id, "attempts": row.attempts, "lease": LEASE}
            )
        if ours is None:
            continue
        try:
            await perform(settings, ports, row.kind, row.payload)
        except Exception as exc:
            permanent = isinstance(exc, SendError) and exc.permanent
            code = exc.code if isinstance(exc, SendError) else type(exc).__name__
            if permanent or row.attempts >= MAX_ATTEMPTS:
                log.warning("effect %s #%d given up after %d tries: %s", row.kind, row.id,
                            row.attempts, code)  # fmt: skip
                async with db.begin() as conn:
                    await conn.execute(_DONE, {"id": row.id})
                continue
            log.info("effect %s #%d failed (%s): will try again", row.kind, row.id, code)
            retry_after = exc.retry_after if isinstance(exc, SendError) else None
            async with db.begin() as conn:
                await conn.execute(
                    _AGAIN,
                    {
                        "id": row.id,
                        "wait": _backoff(row.attempts, retry_after, row.kind),
                        "error": str(code)[:64],
                    },
                )
            continue
        async with db.begin() as conn:
            await conn.execute(_DONE, {"id": row.id})
        done += 1
    return done


async def deliver(db: AsyncEngine, settings: Settings, ports: Ports, ids: list[int]) -> int:
    """Deliver the effects the caller just committed (those nobody claimed yet)."""
    if not ids:
        return 0
    async with db.begin() as conn:
        rows = (await conn.execute(_CLAIM_MINE, {"ids": ids, "lease": LEASE})).all()
    return await _run(db, settings, ports, (Claimed(*row) for row in rows))


async def deliver_one(
    db: AsyncEngine, settings: Settings, ports: Ports, row_id: int
) -> datetime | None:
    """Deliver one row (the priority lane's job for a queued reply): now, if nobody holds
    it. Returns when to try again — the row is still there (a refusal for now, or a
    claim another process holds) — or None when it is done, given up or gone."""
    async with db.begin() as conn:
        row = (await conn.execute(_CLAIM_ONE, {"id": row_id, "lease": LEASE})).first()
    if row is not None:
        await _run(db, settings, ports, [Claimed(*row)])
    async with db.begin() as conn:
        at: datetime | None = await conn.scalar(_NEXT, {"id": row_id})
    return at


async def deliver_due(
    db: AsyncEngine, settings: Settings, ports: Ports, *, limit: int = 200
) -> int:
    """The sweep: deliver effects their writer did not (crashed, or the send failed)."""
    async with db.begin() as conn:
        rows = (await conn.execute(_CLAIM_DUE, {"limit": limit, "lease": LEASE})).all()
    return await _run(db, settings, ports, (Claimed(*row) for row in rows))
