"""Officials announce to their own unit or any unit below it (அறிவிப்பு / announce):
the unit, a title and text in Tamil and/or English, an SMS text, when; then a fresh SMS
code (the step-up sub-flow) and a summary to confirm. The graph: docs/flows/announce.md
(generated from :data:`FLOW`)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from bot import words
from bot.context import Context
from bot.conversation import (
    END,
    Answer,
    Ask,
    Call,
    Done,
    Flow,
    Goto,
    Outcome,
    Permission,
    Retry,
    is_skip,
)
from bot.flows import stepup
from core import announcements, effects
from core.channels.base import Choice
from core.i18n import INDIA, N_, _, format_moment, format_money, local_name
from core.services import officials
from core.validation import ascii_digits

WHEN_WORDS = {
    "now": ("now", "இப்போது", "இப்போதே", "உடனே", "udane", "ippo", "ippove"),
    "later": ("later", "பிறகு", "அப்புறம்", "பின்னர்", "appuram"),
}
SEND_WORDS = {
    "send": ("send", *words.YES, *words.FINE, "அனுப்பு", "அனுப்புங்கள்", "anuppu"),
    "cancel": (*words.CANCEL, *words.NO),
}
MOMENT = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s+(\d{1,2})[:.](\d{2})$")
MAX_CHOICES = 9
ENCODING_NAMES = {
    # TRANSLATORS: an SMS encoding, as officials see it in the cost preview.
    "GSM-7": N_("GSM-7 (160 characters fit one SMS)"),
    # TRANSLATORS: an SMS encoding (any Tamil letter needs it), in the cost preview.
    "UCS-2": N_("Unicode (70 characters fit one SMS)"),
}


async def scope_choices(ctx: Context) -> tuple[Choice, ...]:
    units = await ctx.once(
        "announce.scopes",
        lambda: officials.units_within(
            ctx.session, ctx.member_id, officials.ANNOUNCE, limit=MAX_CHOICES
        ),
    )
    return tuple(Choice(u.code, f"{local_name(u.name, u.name_ta)} ({u.code})") for u in units)


async def ask_scope(ctx: Context) -> str:
    choices = await scope_choices(ctx)
    example = choices[-1].id if choices else "TN.CHN.AC018"
    return _(
        "Who should get this announcement? Choose a unit, or type the code of a unit "
        "below yours, for example {code}."
    ).format(code=example)


async def answer_scope(ctx: Context, answer: Answer) -> Outcome:
    """One of the units listed, or the code of any unit below them."""
    picked = answer.pick(await scope_choices(ctx), {})
    code = picked or answer.text.strip().upper()
    units = await officials.units_within(
        ctx.session, ctx.member_id, officials.ANNOUNCE, code_prefix=code, limit=1
    )
    if not units or units[0].code != code:
        return Retry(_("You can announce only to your own unit or to units below it."))
    ctx.data.update(unit_code=units[0].code, unit_name=local_name(units[0].name, units[0].name_ta))
    # Names this composition: confirming it twice (a stale state) finds the first one.
    ctx.data.setdefault("request_key", uuid.uuid4().hex)
    return Goto("title_ta")


def title(text: str) -> str | None:
    return text[: announcements.TITLE_MAX] or None


def content(text: str) -> str | None:
    return None if is_skip(text) else text or None


async def english_or_tamil(ctx: Context, answer: Answer) -> Outcome | None:
    """Skipping English is allowed only with a Tamil title."""
    if is_skip(answer.text) and not ctx.data.get("title_ta"):
        return Retry(_("An announcement needs a title and text in Tamil or English."))
    return None


async def answer_sms(ctx: Context, answer: Answer) -> Outcome:
    ctx.data["sms"] = None if is_skip(answer.text) else answer.text or None
    return Goto("when")


WHEN = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("now", N_("Send now")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("later", N_("Send later")),
)
STEP_UP = Call("stepup", then=("announce", "confirm"))


async def now(ctx: Context, picked: str) -> Outcome:
    ctx.data["at"] = None
    return await stepup.require(ctx, *STEP_UP.then)


async def answer_at(ctx: Context, answer: Answer) -> Outcome:
    match = MOMENT.match(ascii_digits(answer.text))
    try:
        if match is None:
            raise ValueError("not dd/mm/yyyy hh:mm")
        day, month, year, hour, minute = (int(g) for g in match.groups())
        moment = datetime(year, month, day, hour, minute, tzinfo=INDIA)
    except ValueError:
        return Retry(_("Please write the time like 15/08/2027 18:30."))
    if moment <= ctx.now or moment > ctx.now + timedelta(days=365):
        return Retry(_("Please choose a time in the coming year."))
    ctx.data["at"] = moment.isoformat()
    return await stepup.require(ctx, *STEP_UP.then)


CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("send", N_("Send")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)


async def summary(ctx: Context) -> str:
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
            encoding=_(ENCODING_NAMES.get(preview.encoding, ENCODING_NAMES["UCS-2"])),
            parts=preview.parts,
            cost=format_money(preview.cost_paise / 100),
        )
    )
    when = format_moment(datetime.fromisoformat(d["at"])) if d.get("at") else _("now")
    lines.append(_("Goes out: {when}").format(when=when))
    return "\n".join(lines)


async def send(ctx: Context, picked: str) -> Outcome:
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    d = ctx.data
    result = await announcements.create(
        ctx.session,
        official_member_id=ctx.member_id,
        unit_code=d["unit_code"],
        title=d.get("title_en"),
        content=d.get("content_en"),
        title_ta=d.get("title_ta"),
        content_ta=d.get("content_ta"),
        sms_text=d.get("sms"),
        publish_at=datetime.fromisoformat(d["at"]) if d.get("at") else None,
        now=ctx.now,
        settings=ctx.settings,
        request_key=d.get("request_key"),
    )
    if isinstance(result, announcements.Refused):
        if result.reason is announcements.Refusal.SMS_TOO_LONG:
            return Done(
                _("The SMS text is too long: at most {count} characters.").format(
                    count=result.detail
                )
            )
        return Done(_("You can announce only to your own unit or to units below it."))
    await ctx.effect(
        effects.Kind.PUBLISH, effects.publish(result.announcement_id, result.publish_at)
    )
    return Done(
        # TRANSLATORS: the quoted menu item (table: menu.WORDS) is the label, as translated.
        _(
            "Your announcement is on its way. Choose 'Announcement reports' in the menu "
            "to see who has received it."
        )
    )


FLOW = Flow(
    name="announce",
    entry="scope",
    requires=Permission(officials.ANNOUNCE),
    states={
        "scope": Ask(ask_scope, choices=scope_choices, answer=answer_scope, goes_to=("title_ta",)),
        "title_ta": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_("The title in Tamil? Send SKIP to write only in English."),
            parse=title,
            hint=N_("Please send the title as text."),
            store="title_ta",
            skip="title_en",
            next="content_ta",
        ),
        "content_ta": Ask(
            N_("The announcement in Tamil?"),
            parse=content,
            hint=N_("Please send the announcement as text."),
            store="content_ta",
            next="title_en",
        ),
        "title_en": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_("The title in English? Send SKIP to leave English out."),
            answer=english_or_tamil,
            parse=title,
            hint=N_("Please send the title as text."),
            store="title_en",
            skip="sms",
            next="content_en",
        ),
        "content_en": Ask(
            N_("The announcement in English?"),
            parse=content,
            hint=N_("Please send the announcement as text."),
            store="content_en",
            next="sms",
        ),
        "sms": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_(
                "Members without WhatsApp or Telegram get an SMS. Send a short SMS text, "
                "or SKIP to use the title."
            ),
            answer=answer_sms,
            goes_to=("when",),
        ),
        "when": Ask(
            N_("When should it go out?"),
            choices=WHEN,
            words=WHEN_WORDS,
            next={"later": "at"},
            then=now,
            goes_to=("confirm", STEP_UP, END),
        ),
        "at": Ask(
            N_(
                "At what time? Write day/month/year hours:minutes on the 24-hour clock, "
                "for example 15/08/2027 18:30 for 6:30 in the evening."
            ),
            answer=answer_at,
            goes_to=("confirm", STEP_UP, END),
        ),
        "confirm": Ask(summary, choices=CONFIRM, words=SEND_WORDS, then=send, goes_to=(END,)),
    },
)
