"""Announcements: compose one (within the official's own scope), cost its SMS text,
render it for a member, cancel it, and follow its deliveries (status callbacks, report).

None of these functions commits: the caller commits, then enqueues what leaves the
process (``Jobs.schedule_publish`` (core.jobs) after :func:`create`).
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.sms_text import estimated_cost_paise, segments
from core.config import Settings
from core.fanout import AUDIENCE_SQL, WINDOW
from core.i18n import INDIA
from core.models import Announcement, AnnouncementScope, MessageTemplate, OrganizationUnit
from core.models.notifications import AnnouncementStatus
from core.services import officials

ANNOUNCE = officials.ANNOUNCE
DEFAULT_TEMPLATE = "announcement"
DLT_SLOT = "{#var#}"
DLT_SLOT_MAX = 30
"""A DLT template variable carries about 30 characters (FACTS.md)."""
TITLE_MAX = 255
_TAMIL = re.compile(r"[\u0B80-\u0BFF]")


# --- composing -----------------------------------------------------------------------


class Refusal(enum.StrEnum):
    NOT_ALLOWED = "not_allowed"
    """The official holds no "announce" permission on that unit or above it."""
    UNIT_NOT_FOUND = "unit_not_found"
    EMPTY = "empty"
    """Neither a complete English nor a complete Tamil title and text."""
    TITLE_TOO_LONG = "title_too_long"
    SMS_TOO_LONG = "sms_too_long"
    BAD_SCHEDULE = "bad_schedule"
    """Expires before it is published, or a time without a timezone."""


@dataclass(frozen=True, slots=True)
class SmsPreview:
    encoding: str
    """GSM-7 or UCS-2 (any Tamil letter forces UCS-2)."""
    characters: int
    parts: int
    cost_paise: int
    """What one member's SMS costs."""


@dataclass(frozen=True, slots=True)
class Created:
    announcement_id: uuid.UUID
    unit_code: str
    unit_path: str
    publish_at: datetime
    expires_at: datetime | None
    sms: SmsPreview | None


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    detail: str = ""


def sms_preview(text: str, settings: Settings) -> SmsPreview:
    """Encoding, part count and the estimated cost of one SMS carrying ``text``."""
    cost = segments(text)
    return SmsPreview(
        encoding=cost.encoding,
        characters=cost.characters,
        parts=cost.parts,
        cost_paise=estimated_cost_paise(cost.parts, settings.sms_cost_per_part_paise),
    )


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


async def templates(
    session: AsyncSession, name: str = DEFAULT_TEMPLATE
) -> dict[str, MessageTemplate]:
    """The active templates called ``name``, by language."""
    rows = await session.scalars(
        select(MessageTemplate).where(MessageTemplate.name == name, MessageTemplate.is_active)
    )
    return {t.language: t for t in rows}


def sms_language(text: str) -> str:
    return "ta" if _TAMIL.search(text) else "en"


async def create(
    session: AsyncSession,
    *,
    official_member_id: uuid.UUID | None,
    unit_code: str,
    title: str | None,
    content: str | None,
    title_ta: str | None = None,
    content_ta: str | None = None,
    sms_text: str | None = None,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
    now: datetime,
    settings: Settings,
    template_name: str = DEFAULT_TEMPLATE,
    request_key: str | None = None,
) -> Created | Refused:
    """A scheduled announcement to ``unit_code`` and everything below it, written by an
    official allowed to announce there (their own unit or one below, never above or
    beside). Give English, Tamil or both; each member gets their language, else the
    other. ``sms_text`` is the short text SMS recipients get (default: the title).

    ``official_member_id=None`` is the operator at the console (``vck announce``
    without ``--as``), who may announce anywhere.

    ``request_key`` names the composition (a conversation's): creating with a key
    already used returns the announcement made with it, so a repeated confirmation
    creates one announcement, not two."""
    if request_key is not None:
        earlier = await session.execute(
            select(Announcement, OrganizationUnit.code, OrganizationUnit.path)
            .join(OrganizationUnit, OrganizationUnit.id == Announcement.unit_id)
            .where(Announcement.request_key == request_key)
        )
        prior = earlier.first()
        if prior is not None:
            made, code, path = prior
            assert made.publish_at is not None
            return Created(made.id, code, path, made.publish_at, made.expires_at, None)
    unit = await officials.active_unit(session, unit_code)
    if unit is None:
        return Refused(Refusal.UNIT_NOT_FOUND, unit_code)
    if not await officials.may_act(session, official_member_id, (ANNOUNCE,), unit.path):
        return Refused(Refusal.NOT_ALLOWED, unit.code)

    title, content = _clean(title), _clean(content)
    title_ta, content_ta = _clean(title_ta), _clean(content_ta)
    english = bool(title and content)
    tamil = bool(title_ta and content_ta)
    if not (english or tamil):
        return Refused(Refusal.EMPTY)
    if max(len(title or ""), len(title_ta or "")) > TITLE_MAX:
        return Refused(Refusal.TITLE_TOO_LONG, str(TITLE_MAX))
    publish_at = publish_at or now
    if publish_at.tzinfo is None or (expires_at is not None and expires_at.tzinfo is None):
        return Refused(Refusal.BAD_SCHEDULE, "timezone")
    if expires_at is not None and expires_at <= max(publish_at, now):
        return Refused(Refusal.BAD_SCHEDULE, "expires")

    sms_text = _clean(sms_text)
    preview = None
    if sms_text is not None:
        language = sms_language(sms_text)
        found = await templates(session, template_name)
        template = found.get(language) or next(iter(found.values()), None)
        slots = template.body.count(DLT_SLOT) if template else 0
        if slots and len(sms_text) > slots * DLT_SLOT_MAX:
            return Refused(Refusal.SMS_TOO_LONG, str(slots * DLT_SLOT_MAX))
        rendered = fill_dlt_template(template.body, sms_text) if template else sms_text
        preview = sms_preview(rendered, settings)

    announcement = Announcement(
        # The seed's title/content are NOT NULL: they carry Tamil when English is absent.
        title=title if english else title_ta,
        content=content if english else content_ta,
        title_ta=title_ta if tamil else None,
        content_ta=content_ta if tamil else None,
        created_by=official_member_id,
        unit_id=unit.id,
        target_scope=_scope_of(unit),
        send_sms=True,
        send_push=False,
        publish_at=publish_at,
        expires_at=expires_at,
        request_key=request_key,
    )
    session.add(announcement)
    await session.flush()
    await session.execute(
        text(
            "UPDATE announcements SET status = 'scheduled', sms_text = :sms,"
            " template_name = :template WHERE id = :id"
        ),
        {"sms": sms_text, "template": template_name, "id": announcement.id},
    )
    return Created(announcement.id, unit.code, unit.path, publish_at, expires_at, preview)


def _scope_of(unit: OrganizationUnit) -> AnnouncementScope:
    try:
        return AnnouncementScope(unit.type.value)
    except ValueError:
        return AnnouncementScope.ALL


@dataclass(frozen=True, slots=True)
class Sent:
    announcement_id: uuid.UUID
    title: str
    title_ta: str | None
    unit_code: str
    status: str
    publish_at: datetime | None


async def recent(
    session: AsyncSession, official_member_id: uuid.UUID, *, limit: int = 5
) -> list[Sent]:
    """The official's latest announcements (for "report" in chat), newest first."""
    rows = await session.execute(
        text(
            "SELECT a.id, a.title, a.title_ta, u.code, a.status::text, a.publish_at"
            " FROM announcements a JOIN organization_units u ON u.id = a.unit_id"
            " WHERE a.created_by = :m ORDER BY a.created_at DESC LIMIT :n"
        ),
        {"m": official_member_id, "n": limit},
    )
    return [Sent(*row) for row in rows]


async def audience_size(session: AsyncSession, unit_code: str, *, now: datetime) -> int:
    """How many members an announcement to ``unit_code`` would reach now (a preview)."""
    path = await session.scalar(
        select(OrganizationUnit.path).where(OrganizationUnit.code == unit_code.strip().upper())
    )
    if path is None:
        return 0
    count = await session.scalar(
        text(
            f"SELECT count(*) FROM ({AUDIENCE_SQL}) a"
            " WHERE a.wa IS NOT NULL OR a.tg IS NOT NULL OR a.sms_addr IS NOT NULL"
        ),
        {"scope": path, "window_start": now - WINDOW, "phone_fallback": True},
    )
    return int(count or 0)


async def cancel(session: AsyncSession, announcement_id: uuid.UUID, *, now: datetime) -> int:
    """Stop an announcement: not yet published → cancelled; published → every row not
    yet handed to a provider is skipped. Returns the rows skipped."""
    await session.execute(
        text(
            "UPDATE announcements SET status = 'cancelled' WHERE id = :a"
            " AND status IN ('draft', 'scheduled')"
        ),
        {"a": announcement_id},
    )
    result = await session.execute(
        text(
            "UPDATE announcement_deliveries SET status = 'skipped', error_reason = 'cancelled',"
            " failed_at = :now WHERE announcement_id = :a AND status IN ('queued', 'deferred')"
        ),
        {"a": announcement_id, "now": now},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete(session: AsyncSession, announcement_id: uuid.UUID) -> None:
    """Remove an announcement and its delivery rows (they have no foreign key)."""
    await session.execute(
        text("DELETE FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": announcement_id},
    )
    await session.execute(text("DELETE FROM announcements WHERE id = :a"), {"a": announcement_id})


# --- rendering for one member ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invitation:
    """The event an announcement invites to (core/services/events.py ``publish``): its
    deliveries carry the answers (core/services/invitations.py)."""

    event_id: uuid.UUID
    start_time: datetime
    venue_name: str | None

    def when_short(self) -> str:
        """The start in Indian time, as an SMS gives it: 15/08 17:30."""
        return f"{self.start_time.astimezone(INDIA):%d/%m %H:%M}"

    def sms_value(self, title: str, room: int) -> str:
        """What fills the SMS template's slots: the title, cut so the time always fits
        in ``room`` characters, then the time."""
        when = self.when_short()
        keep = room - len(when) - 2
        if room and len(title) > keep:
            title = title[: max(keep - 1, 0)] + "…"
        return f"{title}, {when}"


@dataclass(frozen=True, slots=True)
class Content:
    """An announcement's texts, as the sender needs them."""

    id: uuid.UUID
    title: str
    content: str
    title_ta: str | None
    content_ta: str | None
    sms_text: str | None
    expires_at: datetime | None
    status: str
    templates: dict[str, MessageTemplate] = field(default_factory=dict)
    invitation: Invitation | None = None
    """Set when the announcement is an event's invitation."""

    @property
    def has_english(self) -> bool:
        return not (self.title == self.title_ta and self.content == self.content_ta)

    def in_language(self, language: str) -> tuple[str, str]:
        """(title, text) in ``language``, else in the other language."""
        tamil = (self.title_ta, self.content_ta) if self.title_ta and self.content_ta else None
        english = (self.title, self.content) if self.has_english else None
        first, second = (tamil, english) if language == "ta" else (english, tamil)
        chosen = first or second or (self.title, self.content)
        return chosen[0] or "", chosen[1] or ""

    def message(self, language: str) -> str:
        title, body = self.in_language(language)
        return f"{title}\n\n{body}"

    def template(self, language: str) -> MessageTemplate | None:
        return self.templates.get(language) or next(iter(self.templates.values()), None)

    def sms(self, language: str) -> tuple[str, MessageTemplate | None]:
        """The SMS text (the announcement's short text, else its title; an invitation's
        title and time) filled into the DLT template of its script's language."""
        short = self.sms_text or self.in_language(language)[0]
        template = self.template(sms_language(short))
        if template is None:
            return short, None
        if self.invitation is not None and self.sms_text is None:
            room = template.body.count(DLT_SLOT) * DLT_SLOT_MAX
            short = self.invitation.sms_value(short, room)
        return fill_dlt_template(template.body, short), template


def fill_dlt_template(body: str, value: str) -> str:
    """The template text with ``value`` spread over its ``{#var#}`` slots, 30 characters
    each; what does not fit is cut with an ellipsis."""
    slots = body.count(DLT_SLOT)
    if slots == 0:
        return body
    room = slots * DLT_SLOT_MAX
    if len(value) > room:
        value = value[: room - 1] + "…"
    chunks = [value[i : i + DLT_SLOT_MAX] for i in range(0, room, DLT_SLOT_MAX)]
    pieces = body.split(DLT_SLOT)
    out = [pieces[0]]
    for chunk, piece in zip(chunks, pieces[1:], strict=False):
        out += [chunk, piece]
    return "".join(out)


async def load_content(session: AsyncSession, announcement_id: uuid.UUID) -> Content | None:
    row = (
        await session.execute(
            text(
                "SELECT a.id, a.title, a.content, a.title_ta, a.content_ta, a.sms_text,"
                " a.expires_at, a.status, coalesce(a.template_name, :default) AS template_name,"
                " e.id AS event_id, e.start_time, e.venue_name"
                " FROM announcements a LEFT JOIN LATERAL (SELECT id, start_time, venue_name"
                "   FROM events WHERE announcement_id = a.id LIMIT 1) e ON true"
                " WHERE a.id = :a"
            ),
            {"a": announcement_id, "default": DEFAULT_TEMPLATE},
        )
    ).one_or_none()
    if row is None:
        return None
    return Content(
        id=row.id,
        title=row.title,
        content=row.content,
        title_ta=row.title_ta,
        content_ta=row.content_ta,
        sms_text=row.sms_text,
        expires_at=row.expires_at,
        status=str(row.status),
        templates=await templates(session, row.template_name),
        invitation=(
            Invitation(row.event_id, row.start_time, row.venue_name)
            if row.event_id is not None
            else None
        ),
    )


def is_cancelled(content: Content) -> bool:
    return content.status == AnnouncementStatus.CANCELLED.value
