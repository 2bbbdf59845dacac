"""Sends left in doubt: a delivery found in ``sending`` after its worker died, lost its
lease, lost Redis or PostgreSQL, or hit the job timeout.

Such a row was claimed (``sending``, its attempt stamped in ``sending_at``) before its
request went out, and nobody recorded the answer. The request may or may not have
reached the provider, and Twilio, Telegram and the DLT providers do not honour
idempotency keys, so sending it again blindly could send it twice. A batch job that
holds the batch's lease looks at such a row only once its attempt is older than
:func:`settle_after` (the lease, plus the longest a request can take): by then its
first sender has either recorded it or is gone. Then it asks the provider, where the
provider can be asked:

- **Twilio**: the Message list for the recipient (``To``) since the attempt
  (``DateSent>=``), matched on the body (a template: on its variables). Found: recorded
  as sent with that message's id (``reconciliation = 'found'``), not sent again. Not
  found: sent again (``resent``; a duplicate only if the first request was still on its
  way, and counted). Twilio cannot be asked right now: ``uncertain``;
- **the DLT provider**: its delivery report, which carries our key as ``CustomField``
  (stored pseudonymised in ``message_status_events``). Found: recorded with its
  ``SmsSid`` and the report applied (``reported``). Not yet: ``uncertain``, settled when
  the report arrives (:func:`core.deliveries.settle_reported`); the provider has no
  lookup by our key, so a DLT send is never resent on a guess;
- **Telegram** cannot be asked: ``uncertain`` stays ``uncertain``.

Every write is fenced on the attempt's stamp (``status = 'sending' AND sending_at =
stamp``): a first sender that records after all wins, and a row is settled once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.announcements import Content
from core.channels.base import Channel, SendError
from core.deliveries import reconcile_early
from core.security import keyed_hmac
from notifier.bootstrap import Deps
from notifier.senders import Outgoing, is_this_message

log = logging.getLogger(__name__)

LOOKUP_SLACK = timedelta(minutes=1)
"""Twilio's list is asked from this long before the attempt (clocks differ)."""
LOOKUPS_AT_ONCE = 8

ORPHANS_SQL = """
SELECT member_id, channel, provider, address, language, via_template, attempts, sending_at
FROM announcement_deliveries
WHERE announcement_id = :a AND member_id = ANY(CAST(:ids AS uuid[])) AND status = 'sending'
  AND sending_at <= :settled
"""

SETTLE_SQL = """
UPDATE announcement_deliveries d SET
  status = CAST(v.status AS delivery_status),
  reconciliation = v.how,
  provider_message_id = coalesce(v.pmid, d.provider_message_id),
  sent_at = CASE WHEN v.status = 'sent' THEN coalesce(d.sent_at, :now) ELSE d.sent_at END,
  not_before = NULL,
  -- A member erased while this was in flight keeps no address (privacy.erase_member).
  address = CASE WHEN EXISTS (SELECT 1 FROM members m
                              WHERE m.id = d.member_id AND m.erased_at IS NOT NULL)
                 THEN '' ELSE d.address END
FROM unnest(CAST(:member_id AS uuid[]), CAST(:stamp AS timestamptz[]),
            CAST(:status AS text[]), CAST(:how AS text[]), CAST(:pmid AS text[]))
  AS v(member_id, stamp, status, how, pmid)
WHERE d.announcement_id = :a AND d.member_id = ANY(CAST(:member_id AS uuid[]))
  AND d.member_id = v.member_id AND d.status = 'sending' AND d.sending_at = v.stamp
RETURNING d.member_id, d.provider, d.provider_message_id, v.how
"""

SETTLED_STATUS = {"found": "sent", "reported": "sent", "resent": "queued"}
"""What a row becomes once settled; ``unknown`` makes it ``uncertain``."""

REPORTED_SQL = """
SELECT provider_message_id FROM message_status_events
WHERE provider = 'dlt' AND payload->>'CustomField' = :field
ORDER BY received_at DESC LIMIT 1
"""


def settle_after(deps: Deps) -> timedelta:
    """How old an attempt must be before another job may settle it: its first sender
    has lost its lease by then, and its request has timed out."""
    return timedelta(
        seconds=deps.options.lease_seconds + deps.settings.provider_timeout_seconds + 1.0
    )


def custom_field_digest(secret: str, key: str) -> str:
    """A DLT report's ``CustomField`` as core.services.status stores it."""
    return "hmac:" + keyed_hmac(secret, "status", key)[:32]


async def orphans(
    session: AsyncSession, announcement_id: uuid.UUID, ids: Sequence[uuid.UUID], settled: datetime
) -> list[Outgoing]:
    rows = await session.execute(
        text(ORPHANS_SQL), {"a": announcement_id, "ids": list(ids), "settled": settled}
    )
    return [
        Outgoing(
            member_id=r.member_id,
            channel=r.channel,
            provider=r.provider,
            address=r.address,
            language=r.language,
            via_template=r.via_template,
            attempts=r.attempts,
            stamp=r.sending_at,
        )
        for r in rows
    ]


async def _ask_twilio(deps: Deps, content: Content, d: Outgoing) -> tuple[str, str | None]:
    """(how, message id): found, resent or unknown."""
    if not d.address or d.stamp is None:
        return "unknown", None
    try:
        listed = await deps.senders.twilio.sent_to(
            Channel(d.channel), d.address, since=d.stamp - LOOKUP_SLACK
        )
    except SendError as exc:
        log.warning("twilio cannot be asked about an in-flight send (%s): uncertain", exc.code)
        return "unknown", None
    except Exception:  # an adapter bug must not hold the batch: the row stays in doubt
        log.exception("asking twilio about an in-flight send failed: uncertain")
        return "unknown", None
    for message in listed:
        if is_this_message(content, d, message.body):
            return "found", message.sid
    return "resent", None


async def _ask_dlt(
    session: AsyncSession, deps: Deps, content: Content, d: Outgoing
) -> tuple[str, str | None]:
    field = custom_field_digest(deps.settings.secret_key.get_secret_value(), d.key(content.id))
    sid = await session.scalar(text(REPORTED_SQL), {"field": field})
    return ("reported", str(sid)) if sid else ("unknown", None)


async def settle(
    deps: Deps, session: AsyncSession, content: Content, batch: int, found: list[Outgoing]
) -> Counter[str]:
    """Settle these in-doubt sends (see the module's docstring); returns how many went
    each way. Rows to resend go back to ``queued`` for the batch's next claim."""
    limit = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def ask(d: Outgoing) -> tuple[str, str | None]:
        if d.provider == "twilio":
            async with limit:
                return await _ask_twilio(deps, content, d)
        if d.provider == "dlt":
            return await _ask_dlt(session, deps, content, d)
        return "unknown", None  # Telegram cannot be asked

    answers: dict[uuid.UUID, tuple[str, str | None]] = {}
    for d in found:  # the DLT provider is asked through the session: one at a time
        if d.provider == "dlt":
            answers[d.member_id] = await ask(d)
    others = [d for d in found if d.provider != "dlt"]
    for d, answer in zip(others, await asyncio.gather(*(ask(d) for d in others)), strict=True):
        answers[d.member_id] = answer
    values: dict[str, list[Any]] = {k: [] for k in ("member_id", "stamp", "status", "how", "pmid")}
    for d in found:
        how, pmid = answers[d.member_id]
        values["member_id"].append(d.member_id)
        values["stamp"].append(d.stamp)
        values["status"].append(SETTLED_STATUS.get(how, "uncertain"))
        values["how"].append(how)
        values["pmid"].append(pmid)
    now = datetime.now(UTC)
    rows = (await session.execute(text(SETTLE_SQL), {"a": content.id, "now": now, **values})).all()
    counts: Counter[str] = Counter()
    known: dict[str, list[str]] = {}
    for _member, provider, pmid, how in rows:
        counts[how] += 1
        if how in ("found", "reported") and pmid:
            known.setdefault(provider, []).append(pmid)
    for provider, pmids in known.items():  # reports that came before we knew the id
        await reconcile_early(session, provider, pmids, now, policy=deps.policy)
    if rows:
        log.warning(
            "batch %s/%s: %d sends left in flight by a stopped worker: %s",
            content.id, batch, len(rows), dict(counts),
        )  # fmt: skip
    return counts
