"""My membership: number, status, unit and language, in the member's own language."""

from __future__ import annotations

from bot.context import Context
from core.i18n import Language, _, format_day, local_name
from core.services import members

STATUS_NAMES = {
    "pending": lambda: _("waiting for verification"),
    "active": lambda: _("active"),
    "suspended": lambda: _("suspended"),
    "expelled": lambda: _("expelled"),
    "resigned": lambda: _("resigned"),
}
LANGUAGE_NAMES = {Language.TAMIL.value: "தமிழ்", Language.ENGLISH.value: "English"}


async def describe(ctx: Context) -> str:
    summary = await members.summary_of(ctx.pg, ctx.member_id)
    assert summary is not None
    return _(
        "Your membership\n"
        "Number: {number}\n"
        "Name: {name}\n"
        "Status: {status}\n"
        "Unit: {unit}\n"
        "Member since: {joined}\n"
        "Language: {language}"
    ).format(
        number=summary.membership_number,
        name=summary.name,
        status=STATUS_NAMES[summary.status](),
        unit=local_name(summary.unit_name, summary.unit_name_ta, ctx.language)
        if summary.unit_name
        else "-",
        joined=format_day(summary.joined_at.date()) if summary.joined_at else "-",
        language=LANGUAGE_NAMES.get(summary.language, summary.language),
    )
