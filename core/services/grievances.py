"""Grievances: a member raises a ticket, it reaches an official who may handle it, and
every change is an audit row and a notice (issue 14; FACTS.md "Grievances").

Ticket numbers are digits only, so they can be typed on a feature phone's keypad with no
letters or symbols: the two-digit year the ticket was raised, then a serial of at least
six digits from ``grievance_ticket_seq`` (``26004217``: 2026, the 4,217th). Spaces,
hyphens and Tamil digits are ignored when one is typed back (:func:`parse_number`).

Routing (:func:`route`): an official of the member's own unit whose position carries
:data:`HANDLE`, else of the nearest unit above that has one; among several there, the
one with the fewest open tickets. Urgent tickets (caste atrocity or violence) also tell
the handlers of the district and the state at once.

Clocks (core/services/grievance_clock.py): each level gets an acknowledge-by and a
resolve-by from the priority's settings; a question to the member stops them until the
answer comes; the sweep escalates a breached ticket one level up.

Every change writes a ``grievance_events`` row (who, when, the unit and assignee after,
the note) and tells the member (and the officials concerned) through the outbox
(core/effects.py), in each reader's own language. Nothing here logs a ticket's text.
Nothing commits: the caller commits.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import effects, notice_templates
from core.config import Settings
from core.i18n import INDIA, N_, in_language, local_name
from core.models import (
    Grievance,
    GrievanceEvent,
    GrievanceStatus,
    Member,
    MemberUnit,
    OrganizationUnit,
)
from core.models.communications import OPEN_STATUSES, grievance_ticket_seq
from core.services import officials
from core.validation import ascii_digits

HANDLE = "handle_grievances"
"""The position permission that makes an official a grievance handler."""
SUBJECT_MAX = 90
"""Characters of a subject (three DLT ``{#var#}`` slots: it is shown by SMS too)."""
QUESTION_MAX = 300
"""An official's question, a resolution note or a reason: ten DLT slots."""
NOTE_MAX = 300
RATINGS = ("good", "poor")


class Kind(enum.StrEnum):
    CREATED = "created"
    ACKNOWLEDGED = "acknowledged"
    ASKED = "asked"
    ANSWERED = "answered"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"
    BREACHED = "breached"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    RATED = "rated"
    REOPENED = "reopened"


class Refusal(enum.StrEnum):
    UNKNOWN = "unknown"
    """No such ticket — or not one this person may see (the same answer, so a number
    tells a stranger nothing)."""
    CLOSED = "closed"
    NOT_NOW = "not_now"
    """The action does not fit the ticket's status (acknowledging twice, …)."""
    OUTSIDE = "outside"
    """Reassigning to someone outside the official's subtree."""


# --- categories and numbers ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    en: str
    ta: str
    priority: str

    def label(self, language: str) -> str:
        return local_name(self.en, self.ta, language)


def categories(settings: Settings) -> list[Category]:
    return [
        Category(c["id"], c["en"], c.get("ta") or c["en"], c.get("priority", "medium"))
        for c in settings.grievance_categories
    ]


def category(settings: Settings, category_id: str) -> Category | None:
    return next((c for c in categories(settings) if c.id == category_id), None)


def category_label(settings: Settings, category_id: str, language: str) -> str:
    found = category(settings, category_id)
    return found.label(language) if found else category_id


def format_number(serial: int, now: datetime) -> str:
    """``26004217``: the year (in India) and the serial, digits only."""
    return f"{now.astimezone(INDIA):%y}{serial:06d}"


def parse_number(typed: str) -> str | None:
    """A typed ticket number as stored, or None when it cannot be one."""
    digits = "".join(ch for ch in ascii_digits(typed) if ch not in " -./#")
    if digits.upper().startswith("G"):
        digits = digits[1:]
    return digits if digits.isdigit() and 8 <= len(digits) <= 12 else None


# --- clocks ----------------------------------------------------------------------------


def clocks(settings: Settings, priority: str, start: datetime, outer_from: datetime) -> tuple[
    datetime, datetime
]:  # fmt: skip
    """(acknowledge-by, resolve-by) for a level starting at ``start``; resolve-by never
    past the outer bound counted from ``outer_from`` (nor before acknowledge-by)."""
    ack = start + timedelta(hours=settings.grievance_ack_hours.get(priority, 72))
    resolve = start + timedelta(hours=settings.grievance_resolve_hours.get(priority, 336))
    outer = outer_from + timedelta(days=settings.grievance_max_days)
    return ack, max(ack, min(resolve, outer))


# --- routing ---------------------------------------------------------------------------

_ROUTE = text(
    """
SELECT u.id AS unit_id, mu.member_id
FROM organization_units u
JOIN member_units mu ON mu.unit_id = u.id AND mu.position_id IS NOT NULL AND mu.left_at IS NULL
JOIN positions p ON p.id = mu.position_id
JOIN members m ON m.id = mu.member_id AND m.status = 'active'
WHERE u.path @> CAST(:path AS ltree) AND nlevel(u.path) <= :deepest
  AND u.is_active IS NOT FALSE AND p.permissions ? :permission
  AND (CAST(:within AS ltree) IS NULL OR u.path <@ CAST(:within AS ltree))
ORDER BY nlevel(u.path) DESC,
  (SELECT count(*) FROM grievances g WHERE g.assigned_to = mu.member_id
     AND g.status IN ('submitted', 'acknowledged', 'in_progress')),
  mu.member_id
LIMIT 1
"""
)


@dataclass(frozen=True, slots=True)
class Route:
    unit_id: uuid.UUID
    official_id: uuid.UUID


async def route(
    session: AsyncSession, unit_path: str, *, above: bool = False, within: str | None = None
) -> Route | None:
    """The least-loaded handler of the nearest unit at or above ``unit_path`` (strictly
    above with ``above``) that has one; None when none does."""
    depth = len(unit_path.split("."))
    row = (
        await session.execute(
            _ROUTE,
            {
                "path": unit_path,
                "deepest": depth - 1 if above else depth,
                "permission": HANDLE,
                "within": within,
            },
        )
    ).first()
    return Route(row.unit_id, row.member_id) if row else None


async def handlers_above(
    session: AsyncSession, unit_path: str, unit_types: Iterable[str]
) -> list[uuid.UUID]:
    """Handlers of the units of ``unit_types`` at or above ``unit_path`` (the district
    and state told of an urgent ticket)."""
    rows = await session.execute(
        text(
            "SELECT DISTINCT mu.member_id FROM organization_units u"
            " JOIN member_units mu ON mu.unit_id = u.id AND mu.position_id IS NOT NULL"
            "  AND mu.left_at IS NULL"
            " JOIN positions p ON p.id = mu.position_id"
            " JOIN members m ON m.id = mu.member_id AND m.status = 'active'"
            " WHERE u.path @> CAST(:path AS ltree) AND CAST(u.type AS text) = ANY(:types)"
            "  AND p.permissions ? :permission"
        ),
        {"path": unit_path, "types": list(unit_types), "permission": HANDLE},
    )
    return [r[0] for r in rows]


async def member_unit(session: AsyncSession, member_id: uuid.UUID) -> OrganizationUnit | None:
    """The member's own unit (primary membership first)."""
    return await session.scalar(
        select(OrganizationUnit)
        .join(MemberUnit, MemberUnit.unit_id == OrganizationUnit.id)
        .where(MemberUnit.member_id == member_id, MemberUnit.left_at.is_(None))
        .order_by(MemberUnit.is_primary.desc(), MemberUnit.position_id.is_not(None))
        .limit(1)
    )


# --- notices ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Both:
    """A field of a notice in English and Tamil: each reader gets their own."""

    en: str
    ta: str | None

    def get(self, language: str) -> str:
        return local_name(self.en, self.ta, language)


def unit_names(unit: OrganizationUnit | None) -> Both:
    if unit is None:
        return Both("-", None)
    return Both(unit.name, (unit.metadata_ or {}).get("name_ta"))


async def tell(
    session: AsyncSession, member_id: uuid.UUID | None, msgid: str, *, now: datetime, **fields: Any
) -> int | None:
    """Queue ``msgid`` (an ``N_`` sentence) to the member, in their language, where they
    can be reached; the outbox row's id. A change told to the ticket's member
    (:data:`MEMBER_STATUS`) goes as the ``grievance_update`` template when their
    WhatsApp window is closed (core/notice_templates.py)."""
    if member_id is None:
        return None
    language = await session.scalar(select(Member.language).where(Member.id == member_id)) or "ta"
    values = {k: v.get(language) if isinstance(v, Both) else v for k, v in fields.items()}
    body = in_language(language, msgid).format(**values)
    payload = await notice_templates.notice(
        session, member_id, body, language=language, now=now,
        template=update_template(language, msgid, values),
    )  # fmt: skip
    if payload is None:
        return None
    return await effects.record(session, effects.Kind.NOTICE, payload, now=now)


def update_template(
    language: str, msgid: str, values: dict[str, Any]
) -> notice_templates.Named | None:
    """The ``grievance_update`` template's fields for a change told to a member: the
    ticket's number and the status phrase (:data:`MEMBER_STATUS`), in their language."""
    status = MEMBER_STATUS.get(msgid)
    if status is None:
        return None
    return notice_templates.Named(
        notice_templates.GRIEVANCE_UPDATE,
        {
            "ticket": str(values.get("number") or "-"),
            "status": in_language(language, status).format(**values),
        },
    )


def due_text(moment: datetime | None) -> str:
    return f"{moment.astimezone(INDIA):%d/%m %H:%M}" if moment else "-"


async def _event(
    session: AsyncSession,
    ticket: Grievance,
    kind: Kind,
    *,
    actor: uuid.UUID | None,
    now: datetime,
    note: str | None = None,
) -> None:
    session.add(
        GrievanceEvent(
            grievance_id=ticket.id,
            kind=kind.value,
            actor_id=actor,
            unit_id=ticket.handling_unit_id,
            assigned_to=ticket.assigned_to,
            note=note,
            at=now,
        )
    )


# --- raising ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Raised:
    ticket_id: uuid.UUID
    number: str
    priority: str
    routed: bool
    created: bool
    effects: list[int]


NEW_FOR_OFFICIAL = N_(
    "New complaint {number}: {category}. Please acknowledge it by {due}: "
    "menu, Party work, Complaint desk."
)
URGENT_ABOVE = N_("Urgent complaint {number}: {category}. It has gone to {unit}.")


async def raise_ticket(
    session: AsyncSession,
    settings: Settings,
    *,
    member_id: uuid.UUID,
    category_id: str,
    subject: str,
    description: str,
    attachments: list[str] | None = None,
    location: tuple[float, float] | None = None,
    request_key: str | None = None,
    now: datetime,
) -> Raised:
    """Create and route a ticket; with a ``request_key`` already used, the ticket it made
    (a double tap creates one ticket)."""
    if request_key is not None:
        existing = await session.scalar(
            select(Grievance).where(Grievance.request_key == request_key)
        )
        if existing is not None:
            return Raised(
                existing.id, existing.ticket_number, str(existing.priority), True, False, []
            )
    found = category(settings, category_id)
    if found is None:
        raise ValueError(f"unknown category {category_id!r}")
    unit = await member_unit(session, member_id)
    target = await route(session, unit.path) if unit is not None else None
    serial = await session.scalar(select(grievance_ticket_seq.next_value()))
    ack, resolve = clocks(settings, found.priority, now, now)
    ticket = Grievance(
        ticket_number=format_number(int(serial or 0), now),
        member_id=member_id,
        unit_id=unit.id if unit else None,
        category=found.id,
        subject=subject[:SUBJECT_MAX],
        description=description,
        priority=found.priority,
        status=GrievanceStatus.SUBMITTED,
        assigned_to=target.official_id if target else None,
        handling_unit_id=target.unit_id if target else (unit.id if unit else None),
        attachments=attachments or None,
        ack_due_at=ack,
        resolve_due_at=resolve,
        clock_started_at=now,
        request_key=request_key,
        location=(
            func.ST_SetSRID(func.ST_MakePoint(location[1], location[0]), 4326) if location else None
        ),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    await _event(session, ticket, Kind.CREATED, actor=member_id, now=now)
    sent: list[int | None] = []
    if target is not None:
        sent.append(
            await tell(
                session,
                target.official_id,
                NEW_FOR_OFFICIAL,
                now=now,
                number=ticket.ticket_number,
                category=Both(found.en, found.ta),
                due=due_text(ack),
            )
        )
    if found.priority == "urgent" and unit is not None:
        handling = await session.get(OrganizationUnit, ticket.handling_unit_id)
        for official in await handlers_above(session, unit.path, ("district", "state")):
            if target is not None and official == target.official_id:
                continue
            sent.append(
                await tell(
                    session,
                    official,
                    URGENT_ABOVE,
                    now=now,
                    number=ticket.ticket_number,
                    category=Both(found.en, found.ta),
                    unit=unit_names(handling),
                )
            )
    return Raised(
        ticket.id,
        ticket.ticket_number,
        found.priority,
        target is not None,
        True,
        [s for s in sent if s is not None],
    )


# --- notices' sentences ------------------------------------------------------------------

# TRANSLATORS: these go by SMS to feature phones: 70 Tamil characters fit one part.
ACKNOWLEDGED = N_("Your complaint {number} has been acknowledged. We will tell you of each step.")
ASKED = N_("About your complaint {number}, we ask: {question} Please reply with your answer.")
ANSWERED = N_(
    "The member answered your question on complaint {number}. "
    "Open it: menu, Party work, Complaint desk."
)
RATE = N_("Was it handled well? Reply 1 for good, 2 for poor (it then goes higher up).")
RESOLVED = N_("Your complaint {number} is resolved: {note}")
REJECTED = N_("Your complaint {number} was closed without action: {note}")
REASSIGNED = N_("Your complaint {number} has been passed to another official.")
ESCALATED_NEW = N_(
    "Complaint {number} was not answered in time and has come to you: {category}. "
    "Please acknowledge it by {due}."
)
ESCALATED_OLD = N_("Complaint {number} was not answered in time and has gone up to {unit}.")
ESCALATED_MEMBER = N_("Your complaint {number} was not answered in time. It has gone up to {unit}.")
APPEAL_NEW = N_(
    "Appeal: complaint {number} was rated poor and has come to you. Please acknowledge it by {due}."
)
APPEAL_OLD = N_("Complaint {number} was rated poor: it has gone to {unit} as an appeal.")

# TRANSLATORS: the status in the WhatsApp template "grievance_update" ("Update on your
# complaint {{1}}: {{2}}"), sent when the member has not written in 24 hours. Short.
MEMBER_STATUS = {
    ACKNOWLEDGED: N_("acknowledged by an official."),
    ASKED: N_("the official asks: {question} Please reply with your answer."),
    RATE: N_("was it handled well? Reply 1 for good, 2 for poor."),
    RESOLVED: N_("resolved: {note}"),
    REJECTED: N_("closed without action: {note}"),
    REASSIGNED: N_("passed to another official."),
    ESCALATED_MEMBER: N_("not answered in time, so it has gone up to {unit}."),
}
"""The changes told to a ticket's member, as the ``grievance_update`` template's status."""
BREACHED_TOP = N_("Complaint {number} is past its deadline and there is no level above yours.")


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Changed:
    ticket: Grievance
    effects: list[int]


def due(ticket: Grievance) -> datetime | None:
    """The next deadline: acknowledge-by until acknowledged, then resolve-by."""
    if ticket.status == "submitted":
        return ticket.ack_due_at
    return ticket.resolve_due_at


def is_open(ticket: Grievance) -> bool:
    return str(ticket.status) in OPEN_STATUSES


async def _by_number(session: AsyncSession, number: str | None, *, lock: bool) -> Grievance | None:
    if number is None:
        return None
    query = select(Grievance).where(Grievance.ticket_number == number)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def ticket_path(session: AsyncSession, ticket: Grievance) -> str | None:
    unit_id = ticket.unit_id or ticket.handling_unit_id
    if unit_id is None:
        return None
    return await session.scalar(select(OrganizationUnit.path).where(OrganizationUnit.id == unit_id))


async def for_official(
    session: AsyncSession, official_id: uuid.UUID, typed: str, *, lock: bool = False
) -> Grievance | Refusal:
    """The ticket, when it is in the official's subtree (they handle grievances at its
    member's unit or above); otherwise :attr:`Refusal.UNKNOWN`."""
    ticket = await _by_number(session, parse_number(typed), lock=lock)
    if ticket is None:
        return Refusal.UNKNOWN
    path = await ticket_path(session, ticket)
    if path is None or not await officials.can(session, official_id, HANDLE, path):
        return Refusal.UNKNOWN
    return ticket


async def for_member(
    session: AsyncSession, member_id: uuid.UUID, typed: str, *, lock: bool = False
) -> Grievance | Refusal:
    ticket = await _by_number(session, parse_number(typed), lock=lock)
    if ticket is None or ticket.member_id != member_id:
        return Refusal.UNKNOWN
    return ticket


async def queue(session: AsyncSession, official_id: uuid.UUID, limit: int = 9) -> list[Grievance]:
    """The official's open tickets, the nearest deadline first."""
    rows = await session.scalars(
        select(Grievance)
        .where(Grievance.assigned_to == official_id, Grievance.status.in_(OPEN_STATUSES))
        .order_by(
            text(
                "CASE WHEN status = 'submitted' THEN ack_due_at ELSE resolve_due_at END NULLS LAST"
            ),
            Grievance.created_at,
        )
        .limit(limit)
    )
    return list(rows)


async def mine(session: AsyncSession, member_id: uuid.UUID, limit: int = 9) -> list[Grievance]:
    rows = await session.scalars(
        select(Grievance)
        .where(Grievance.member_id == member_id)
        .order_by(Grievance.created_at.desc())
        .limit(limit)
    )
    return list(rows)


async def history(session: AsyncSession, ticket_id: uuid.UUID) -> list[GrievanceEvent]:
    rows = await session.scalars(
        select(GrievanceEvent)
        .where(GrievanceEvent.grievance_id == ticket_id)
        .order_by(GrievanceEvent.id)
    )
    return list(rows)


async def pending_for_member(
    session: AsyncSession, member_id: uuid.UUID, now: datetime
) -> tuple[str, Grievance] | None:
    """What the member's next message may be for: ``("answer", t)`` while an official's
    question waits, ``("rate", t)`` for a ticket resolved or rejected in the last 14 days
    and not yet rated."""
    waiting = await session.scalar(
        select(Grievance)
        .where(
            Grievance.member_id == member_id,
            Grievance.waiting_since.is_not(None),
            Grievance.status.in_(OPEN_STATUSES),
        )
        .order_by(Grievance.waiting_since)
        .limit(1)
    )
    if waiting is not None:
        return "answer", waiting
    unrated = await session.scalar(
        select(Grievance)
        .where(
            Grievance.member_id == member_id,
            Grievance.status.in_(("resolved", "rejected")),
            Grievance.rating.is_(None),
            Grievance.updated_at > now - timedelta(days=14),
        )
        .order_by(Grievance.updated_at.desc())
        .limit(1)
    )
    return ("rate", unrated) if unrated is not None else None


# --- officials' actions ----------------------------------------------------------------


def _sent(*ids: int | None) -> list[int]:
    return [i for i in ids if i is not None]


async def acknowledge(
    session: AsyncSession, official_id: uuid.UUID, typed: str, *, now: datetime
) -> Changed | Refusal:
    ticket = await for_official(session, official_id, typed, lock=True)
    if isinstance(ticket, Refusal):
        return ticket
    if ticket.status != "submitted":
        return Refusal.NOT_NOW if is_open(ticket) else Refusal.CLOSED
    ticket.status = GrievanceStatus.ACKNOWLEDGED
    ticket.acknowledged_at = now
    ticket.assigned_to = official_id
    ticket.updated_at = now
    await _event(session, ticket, Kind.ACKNOWLEDGED, actor=official_id, now=now)
    sent = await tell(session, ticket.member_id, ACKNOWLEDGED, now=now, number=ticket.ticket_number)
    return Changed(ticket, _sent(sent))


async def ask(
    session: AsyncSession, official_id: uuid.UUID, typed: str, question: str, *, now: datetime
) -> Changed | Refusal:
    """Ask the member; the clocks stop until they answer."""
    ticket = await for_official(session, official_id, typed, lock=True)
    if isinstance(ticket, Refusal):
        return ticket
    if not is_open(ticket):
        return Refusal.CLOSED
    question = question[:QUESTION_MAX]
    if ticket.status == "submitted":
        ticket.acknowledged_at = now
    ticket.status = GrievanceStatus.IN_PROGRESS
    ticket.waiting_since = ticket.waiting_since or now
    ticket.updated_at = now
    await _event(session, ticket, Kind.ASKED, actor=official_id, now=now, note=question)
    sent = await tell(
        session, ticket.member_id, ASKED, now=now, number=ticket.ticket_number, question=question
    )
    return Changed(ticket, _sent(sent))


async def answer(
    session: AsyncSession,
    member_id: uuid.UUID,
    typed: str,
    text_: str,
    *,
    attachments: list[str] | None = None,
    now: datetime,
) -> Changed | Refusal:
    """The member's answer (or more information) joins the ticket; a waiting clock
    starts again where it stopped."""
    ticket = await for_member(session, member_id, typed, lock=True)
    if isinstance(ticket, Refusal):
        return ticket
    if not is_open(ticket):
        return Refusal.CLOSED
    if ticket.waiting_since is not None:
        stood = now - ticket.waiting_since
        for name in ("ack_due_at", "resolve_due_at", "clock_started_at"):
            value = getattr(ticket, name)
            if value is not None:
                setattr(ticket, name, value + stood)
        ticket.waiting_since = None
    if attachments:
        ticket.attachments = [*(ticket.attachments or []), *attachments]
    ticket.updated_at = now
    await _event(session, ticket, Kind.ANSWERED, actor=member_id, now=now, note=text_ or None)
    sent = await tell(session, ticket.assigned_to, ANSWERED, now=now, number=ticket.ticket_number)
    return Changed(ticket, _sent(sent))


async def _close(
    session: AsyncSession,
    official_id: uuid.UUID,
    typed: str,
    note: str,
    *,
    status: GrievanceStatus,
    kind: Kind,
    sentence: str,
    now: datetime,
) -> Changed | Refusal:
    ticket = await for_official(session, official_id, typed, lock=True)
    if isinstance(ticket, Refusal):
        return ticket
    if not is_open(ticket):
        return Refusal.CLOSED
    note = note[:NOTE_MAX]
    ticket.status = status
    ticket.resolved_at = now
    ticket.resolution_notes = note
    ticket.waiting_since = None
    ticket.acknowledged_at = ticket.acknowledged_at or now
    ticket.updated_at = now
    await _event(session, ticket, kind, actor=official_id, now=now, note=note)
    told = await tell(
        session, ticket.member_id, sentence, now=now, number=ticket.ticket_number, note=note
    )
    rate = await tell(session, ticket.member_id, RATE, now=now, number=ticket.ticket_number)
    return Changed(ticket, _sent(told, rate))


async def resolve(
    session: AsyncSession, official_id: uuid.UUID, typed: str, note: str, *, now: datetime
) -> Changed | Refusal:
    return await _close(
        session,
        official_id,
        typed,
        note,
        status=GrievanceStatus.RESOLVED,
        kind=Kind.RESOLVED,
        sentence=RESOLVED,
        now=now,
    )


async def reject(
    session: AsyncSession, official_id: uuid.UUID, typed: str, reason: str, *, now: datetime
) -> Changed | Refusal:
    return await _close(
        session,
        official_id,
        typed,
        reason,
        status=GrievanceStatus.REJECTED,
        kind=Kind.REJECTED,
        sentence=REJECTED,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Handler:
    member_id: uuid.UUID
    name: str
    unit: Both


async def handlers_within(
    session: AsyncSession, official_id: uuid.UUID, limit: int = 9
) -> list[Handler]:
    """Other handlers in the official's subtree, highest unit first: whom they may
    reassign to."""
    scope, _unit = officials.permission_scope(official_id, HANDLE)
    rows = await session.execute(
        text(
            "SELECT DISTINCT ON (nlevel(u.path), u.code, m.id) m.id,"
            " concat_ws(' ', m.first_name, m.last_name) AS name, u.name AS unit,"
            " u.metadata->>'name_ta' AS unit_ta"
            " FROM member_units mu JOIN organization_units u ON u.id = mu.unit_id"
            " JOIN positions p ON p.id = mu.position_id"
            " JOIN members m ON m.id = mu.member_id AND m.status = 'active'"
            " WHERE mu.position_id IS NOT NULL AND mu.left_at IS NULL"
            "  AND p.permissions ? :permission AND m.id <> :me AND u.is_active IS NOT FALSE"
            "  AND u.path <@ ANY(CAST(:scopes AS ltree[]))"
            " ORDER BY nlevel(u.path), u.code, m.id LIMIT :limit"
        ),
        {
            "permission": HANDLE,
            "me": official_id,
            "scopes": list(await session.scalars(scope)),
            "limit": limit,
        },
    )
    return [Handler(r.id, r.name, Both(r.unit, r.unit_ta)) for r in rows]


async def reassign(
    session: AsyncSession,
    settings: Settings,
    official_id: uuid.UUID,
    typed: str,
    to_member_id: uuid.UUID,
    *,
    now: datetime,
) -> Changed | Refusal:
    ticket = await for_official(session, official_id, typed, lock=True)
    if isinstance(ticket, Refusal):
        return ticket
    if not is_open(ticket):
        return Refusal.CLOSED
    allowed = {h.member_id for h in await handlers_within(session, official_id, limit=500)}
    if to_member_id not in allowed:
        return Refusal.OUTSIDE
    unit_id = await session.scalar(
        text(
            "SELECT mu.unit_id FROM member_units mu JOIN positions p ON p.id = mu.position_id"
            " JOIN organization_units u ON u.id = mu.unit_id"
            " WHERE mu.member_id = :m AND mu.left_at IS NULL AND p.permissions ? :permission"
            " ORDER BY nlevel(u.path) LIMIT 1"
        ),
        {"m": to_member_id, "permission": HANDLE},
    )
    ticket.assigned_to = to_member_id
    ticket.handling_unit_id = unit_id or ticket.handling_unit_id
    ticket.updated_at = now
    await _event(session, ticket, Kind.REASSIGNED, actor=official_id, now=now)
    found = category(settings, ticket.category)
    names = Both(found.en, found.ta) if found else Both(ticket.category, None)
    to_official = await tell(
        session,
        to_member_id,
        NEW_FOR_OFFICIAL,
        now=now,
        number=ticket.ticket_number,
        category=names,
        due=due_text(due(ticket)),
    )
    to_member = await tell(
        session, ticket.member_id, REASSIGNED, now=now, number=ticket.ticket_number
    )
    return Changed(ticket, _sent(to_official, to_member))


# --- the member's rating, and the appeal -------------------------------------------------


async def climb(
    session: AsyncSession,
    settings: Settings,
    ticket: Grievance,
    *,
    now: datetime,
    appeal: bool,
    actor: uuid.UUID | None,
) -> list[int]:
    """Move the ticket one level up (the nearest unit above its handling unit with a
    handler), with that level's own clocks, and tell both levels and the member."""
    current = await session.get(OrganizationUnit, ticket.handling_unit_id)
    target = await route(session, current.path, above=True) if current is not None else None
    previous = ticket.assigned_to
    if target is None:
        ticket.breached_at = now
        await _event(session, ticket, Kind.BREACHED, actor=actor, now=now)
        return _sent(
            await tell(session, previous, BREACHED_TOP, now=now, number=ticket.ticket_number)
        )
    if appeal:
        ticket.clock_started_at = now
        ticket.is_appeal = True
        ticket.rating = None
        ticket.resolved_at = None
    ack, resolve = clocks(settings, str(ticket.priority), now, ticket.clock_started_at or now)
    ticket.handling_unit_id = target.unit_id
    ticket.assigned_to = target.official_id
    ticket.status = GrievanceStatus.SUBMITTED
    ticket.acknowledged_at = None
    ticket.ack_due_at, ticket.resolve_due_at = ack, resolve
    ticket.escalations = (ticket.escalations or 0) + 1
    ticket.breached_at = None
    ticket.updated_at = now
    await _event(session, ticket, Kind.REOPENED if appeal else Kind.ESCALATED, actor=actor, now=now)
    unit = unit_names(await session.get(OrganizationUnit, target.unit_id))
    found = category(settings, ticket.category)
    names = Both(found.en, found.ta) if found else Both(ticket.category, None)
    number = ticket.ticket_number
    if appeal:  # the member appealed in chat, and the reply says so
        return _sent(
            await tell(
                session, target.official_id, APPEAL_NEW, now=now, number=number, due=due_text(ack)
            ),
            await tell(session, previous, APPEAL_OLD, now=now, number=number, unit=unit),
        )
    return _sent(
        await tell(
            session,
            target.official_id,
            ESCALATED_NEW,
            now=now,
            number=number,
            category=names,
            due=due_text(ack),
        ),
        await tell(session, previous, ESCALATED_OLD, now=now, number=number, unit=unit),
        await tell(session, ticket.member_id, ESCALATED_MEMBER, now=now, number=number, unit=unit),
    )


async def rate(
    session: AsyncSession,
    settings: Settings,
    member_id: uuid.UUID,
    typed: str,
    rating: str,
    *,
    now: datetime,
) -> Changed | Refusal:
    """Good closes the ticket; poor reopens it as an appeal one level above."""
    if rating not in RATINGS:
        raise ValueError(rating)
    ticket = await for_member(session, member_id, typed, lock=True)
    if isinstance(ticket, Refusal):
        return ticket
    if ticket.status not in ("resolved", "rejected") or ticket.rating is not None:
        return Refusal.NOT_NOW
    ticket.rating = rating
    ticket.updated_at = now
    await _event(session, ticket, Kind.RATED, actor=member_id, now=now, note=rating)
    if rating == "good":
        ticket.status = GrievanceStatus.CLOSED
        return Changed(ticket, [])
    sent = await climb(session, settings, ticket, now=now, appeal=True, actor=member_id)
    return Changed(ticket, sent)


# --- attachments ---------------------------------------------------------------------

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
AUDIO_TYPES = frozenset({"audio/ogg", "audio/mpeg", "audio/amr", "audio/mp4", "audio/aac"})


class AttachmentProblem(enum.StrEnum):
    NOT_PHOTO_OR_VOICE = "not_photo_or_voice"
    """A file, a video or an unknown type: a file keeps its metadata (a photo's EXIF
    location), so only photos and voice notes are taken."""
    TOO_BIG = "too_big"


def attachment_problem(settings: Settings, kind: str, content_type: str | None,
                       size: int | None) -> AttachmentProblem | None:  # fmt: skip
    """Why an attachment is refused, or None: a photo as WhatsApp or Telegram re-encoded
    it (their photos carry no EXIF metadata) or a voice note, within the size limit."""
    content_type = (content_type or "").lower()
    photo = kind == "image" and content_type in IMAGE_TYPES
    voice = kind == "audio" and content_type.split(";")[0] in AUDIO_TYPES
    if not (photo or voice):
        return AttachmentProblem.NOT_PHOTO_OR_VOICE
    if size is not None and size > settings.grievance_attachment_max_bytes:
        return AttachmentProblem.TOO_BIG
    return None


def attachment_reference(provider: str, kind: str, reference: str) -> str:
    """What ``grievances.attachments`` keeps: the provider's reference, never the bytes
    (``telegram:image:<file id>``, ``twilio:audio:<media URL>``)."""
    return f"{provider}:{kind}:{reference}"
