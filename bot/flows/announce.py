"""Officials announce to their own unit or any unit below it (அறிவிப்பு / announce).

```mermaid
stateDiagram-v2
    [*] --> scope: own units listed; a unit code below them may be typed
    scope --> title_ta
    title_ta --> content_ta: Tamil title
    title_ta --> title_en: SKIP (English only)
    content_ta --> title_en
    title_en --> content_en: English title
    title_en --> sms: SKIP (Tamil only)
    content_en --> sms
    sms --> when: short SMS text (encoding, parts, cost shown) or SKIP
    when --> stepup: now
    when --> at: at a time
    at --> stepup: dd/mm/yyyy hh:mm (India time)
    stepup --> confirm: fresh SMS code
    confirm --> [*]: Send → scheduled, the worker fans it out
    confirm --> [*]: Cancel (nothing stored)
```
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.context import Context
from bot.conversation import Answer, Answerer, Done, Flow, Goto, Outcome, Question, Retry
from bot.flows import common, stepup
from core import announcements
from core.channels.base import Choice, Reply
from core.i18n import INDIA, _, format_moment, format_money
from core.services import officials
from core.validation import ascii_digits

WHEN_WORDS = {"now": ("now", "இப்போது"), "later": ("later", "பிறகு")}
SEND_WORDS = {"send": ("send", "yes", "அனுப்பு", "ஆம்"), "cancel": ("cancel", "ரத்து")}
MOMENT = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s+(\d{1,2})[:.](\d{2})$")
MAX_CHOICES = 9


async def scope_choices(ctx: Context) -> tuple[Choice, ...]:
    assert ctx.member is not None
    units = await officials.units_within(
        ctx.session, ctx.member.id, officials.ANNOUNCE, limit=MAX_CHOICES
    )
    return tuple(Choice(u.code, f"{u.name} ({u.code})") for u in units)


async def ask_scope(ctx: Context) -> Reply:
    choices = await scope_choices(ctx)
    example = choices[-1].id if choices else "TN.CHN.AC018"
    return Reply(
        _(
            "Who should get this announcement? Choose a unit, or type the code of a unit "
            "below yours, for example {code}."
        ).format(code=example),
        choices,
    )


async def answer_scope(ctx: Context, answer: Answer) -> Outcome:
    assert ctx.member is not None
    picked = answer.pick(await scope_choices(ctx), {})
    code = picked or answer.text.strip().upper()
    units = await officials.units_within(
        ctx.session, ctx.member.id, officials.ANNOUNCE, code_prefix=code, limit=1
    )
    if not units or units[0].code != code:
        return Retry(_("You can announce only to your own unit or to units below it."))
    ctx.data.update(unit_code=units[0].code, unit_name=units[0].name)
    return Goto("title_ta")


async def ask_title_ta(ctx: Context) -> Reply:
    return Reply(_("The title in Tamil? Send SKIP to write only in English."))


async def ask_content_ta(ctx: Context) -> Reply:
    return Reply(_("The announcement in Tamil?"))


async def ask_title_en(ctx: Context) -> Reply:
    return Reply(_("The title in English? Send SKIP to leave English out."))


async def ask_content_en(ctx: Context) -> Reply:
    return Reply(_("The announcement in English?"))


def title_answer(language: str, *, skip_to: str) -> Answerer:
    """A title, or SKIP for no text in ``language`` (one of the two languages is needed)."""

    async def answer(ctx: Context, answer: Answer) -> Outcome:
        if common.is_skip(answer.text):
            if language == "en" and not ctx.data.get("title_ta"):
                return Retry(_("An announcement needs a title and text in Tamil or English."))
            ctx.data[f"title_{language}"] = None
            return Goto(skip_to)
        if not answer.text:
            return Retry(_("Please send the title as text."))
        ctx.data[f"title_{language}"] = answer.text[: announcements.TITLE_MAX]
        return Goto(f"content_{language}")

    return answer


def content_answer(language: str, *, then: str) -> Answerer:
    async def answer(ctx: Context, answer: Answer) -> Outcome:
        if not answer.text or common.is_skip(answer.text):
            return Retry(_("Please send the announcement as text."))
        ctx.data[f"content_{language}"] = answer.text
        return Goto(then)

    return answer


async def ask_sms(ctx: Context) -> Reply:
    return Reply(
        _(
            "Members without WhatsApp or Telegram get an SMS. Send a short SMS text, "
            "or SKIP to use the title."
        )
    )


async def answer_sms(ctx: Context, answer: Answer) -> Outcome:
    ctx.data["sms"] = None if common.is_skip(answer.text) else answer.text or None
    return Goto("when")


def when_choices() -> tuple[Choice, ...]:
    return (Choice("now", _("Send now")), Choice("later", _("At a time I choose")))


async def ask_when(ctx: Context) -> Reply:
    return Reply(_("When should it go out?"), when_choices())


async def answer_when(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(when_choices(), WHEN_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    if picked == "later":
        return Goto("at")
    ctx.data["at"] = None
    return await stepup.require(ctx, "announce", "confirm")


async def ask_at(ctx: Context) -> Reply:
    return Reply(
        _("At what time? Write day/month/year hours:minutes, for example 15/08/2027 18:30.")
    )


async def answer_at(ctx: Context, answer: Answer) -> Outcome:
    match = MOMENT.match(ascii_digits(answer.text))
    try:
        day, month, year, hour, minute = (int(g) for g in match.groups()) if match else ()
        moment = datetime(year, month, day, hour, minute, tzinfo=INDIA)
    except (TypeError, ValueError):
        return Retry(_("Please write the time like 15/08/2027 18:30."))
    if moment <= ctx.now or moment > ctx.now + timedelta(days=365):
        return Retry(_("Please choose a time in the coming year."))
    ctx.data["at"] = moment.isoformat()
    return await stepup.require(ctx, "announce", "confirm")


def confirm_choices() -> tuple[Choice, ...]:
    return (Choice("send", _("Send")), Choice("cancel", _("Cancel")))


async def ask_confirm(ctx: Context) -> Reply:
    d = ctx.data
    lines = [_("Please check the announcement.")]
    lines.append(
        _("To: {unit} and every unit below it").format(unit=f"{d['unit_name']} ({d['unit_code']})")
    )
    if d.get("title_ta"):
        lines.append(f"\n{d['title_ta']}\n{d['content_ta']}")
    if d.get("title_en"):
        lines.append(f"\n{d['title_en']}\n{d['content_en']}")
    sms = d.get("sms") or d.get("title_ta") or d.get("title_en") or ""
    preview = announcements.sms_preview(sms, ctx.settings)
    lines.append(
        "\n"
        + _("SMS: {encoding}, {parts} part(s), about {cost} per member.").format(
            encoding="Unicode (UCS-2)" if preview.encoding != "GSM-7" else "GSM-7",
            parts=preview.parts,
            cost=format_money(preview.cost_paise / 100),
        )
    )
    when = format_moment(datetime.fromisoformat(d["at"])) if d.get("at") else _("now")
    lines.append(_("Goes out: {when}").format(when=when))
    return Reply("\n".join(lines), confirm_choices())


async def answer_confirm(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(confirm_choices(), SEND_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    assert ctx.member is not None
    d = ctx.data
    result = await announcements.create(
        ctx.session,
        official_member_id=ctx.member.id,
        unit_code=d["unit_code"],
        title=d.get("title_en"),
        content=d.get("content_en"),
        title_ta=d.get("title_ta"),
        content_ta=d.get("content_ta"),
        sms_text=d.get("sms"),
        publish_at=datetime.fromisoformat(d["at"]) if d.get("at") else None,
        now=ctx.now,
        settings=ctx.settings,
    )
    if isinstance(result, announcements.Refused):
        if result.reason is announcements.Refusal.SMS_TOO_LONG:
            return Done(
                _("The SMS text is too long: at most {count} characters.").format(
                    count=result.detail
                )
            )
        return Done(_("You can announce only to your own unit or to units below it."))
    ctx.later(lambda: ctx.jobs.schedule_publish(result.announcement_id, result.publish_at))
    return Done(
        _(
            "Your announcement is on its way. Choose 'Announcement reports' in the menu "
            "to see who has received it."
        )
    )


FLOW = Flow(
    name="announce",
    entry="scope",
    states={
        "scope": Question(ask_scope, answer_scope),
        "title_ta": Question(ask_title_ta, title_answer("ta", skip_to="title_en")),
        "content_ta": Question(ask_content_ta, content_answer("ta", then="title_en")),
        "title_en": Question(ask_title_en, title_answer("en", skip_to="sms")),
        "content_en": Question(ask_content_en, content_answer("en", then="sms")),
        "sms": Question(ask_sms, answer_sms),
        "when": Question(ask_when, answer_when),
        "at": Question(ask_at, answer_at),
        "confirm": Question(ask_confirm, answer_confirm),
    },
)
