"""Officials call an event from chat (from the Events list: "Create an event"): the
unit (their own or one below), a title, the type, when it starts and how long it lasts,
the venue (a shared location, a PIN code's centre or a booth), how many places; then a
fresh SMS code (the step-up sub-flow, as for an announcement: it messages a whole unit)
and a summary to publish. Publishing invites every member of the unit through the
announcement fan-out. The graph: docs/flows/event_new.md (generated from :data:`FLOW`)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from bot import words
from bot.context import Context
from bot.conversation import END, Answer, Ask, Call, Done, Flow, Goto, Outcome, Permission, Retry
from bot.flows import stepup
from core import effects, places
from core.channels.base import Choice
from core.i18n import INDIA, N_, _, format_moment, format_number, local_name
from core.models.events import EventType
from core.services import events, officials
from core.validation import ascii_digits

MAX_UNITS = 9
MOMENT = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s+(\d{1,2})[:.](\d{2})$")
MAX_HOURS = 24

TYPES = (
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.RALLY.value, N_("Rally")),
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.MEETING.value, N_("Meeting")),
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.PROTEST.value, N_("Protest")),
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.CAMPAIGN.value, N_("Campaign")),
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.TRAINING.value, N_("Training")),
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.CELEBRATION.value, N_("Celebration")),
    # TRANSLATORS: a kind of party event, in a numbered list.
    Choice(EventType.OTHER.value, N_("Other")),
)
TYPE_WORDS = {
    "rally": ("பேரணி",),
    "meeting": ("கூட்டம்",),
    "protest": ("ஆர்ப்பாட்டம்", "போராட்டம்"),
    "campaign": ("பிரச்சாரம்",),
    "training": ("பயிற்சி",),
    "celebration": ("விழா", "கொண்டாட்டம்"),
}
PUBLISH_WORDS = {
    "publish": ("publish", *words.YES, *words.FINE, "வெளியிடு", "அனுப்பு"),
    "cancel": (*words.CANCEL, *words.NO),
}
PUBLISH = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("publish", N_("Publish")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)
STEP_UP = Call("stepup", then=("event_new", "confirm"))
NOT_YOURS = N_("You can call events only for your own unit or for units below it.")


async def unit_choices(ctx: Context) -> tuple[Choice, ...]:
    units = await ctx.once(
        "event_new.units",
        lambda: officials.units_within(ctx.session, ctx.member_id, events.EVENTS, limit=MAX_UNITS),
    )
    return tuple(Choice(u.code, f"{local_name(u.name, u.name_ta)} ({u.code})") for u in units)


async def answer_unit(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(await unit_choices(ctx), {})
    code = picked or answer.text.strip().upper()
    units = await officials.units_within(
        ctx.session, ctx.member_id, events.EVENTS, code_prefix=code, limit=1
    )
    if not units or units[0].code != code:
        return Retry(_(NOT_YOURS))
    ctx.data.update(unit_code=units[0].code, unit_name=local_name(units[0].name, units[0].name_ta))
    ctx.data.setdefault("request_key", uuid.uuid4().hex)
    return Goto("title")


def title(text: str) -> str | None:
    return text.strip()[: events.TITLE_MAX] or None


def moment(text: str) -> datetime | None:
    """``15/08/2027 18:30`` (Tamil digits too) as a time in India; None otherwise."""
    match = MOMENT.match(ascii_digits(text).strip())
    if match is None:
        return None
    day, month, year, hour, minute = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=INDIA)
    except ValueError:
        return None


async def answer_start(ctx: Context, answer: Answer) -> Outcome:
    start = moment(answer.text)
    if start is None:
        return Retry(_("Please write the time like 15/08/2027 18:30."))
    if start <= ctx.now or start > ctx.now + timedelta(days=365):
        return Retry(_("Please choose a time in the coming year."))
    ctx.data["start"] = start.isoformat()
    return Goto("hours")


def hours(text: str) -> int | None:
    digits = ascii_digits(text).strip()
    if not digits.isdigit() or not 1 <= int(digits) <= MAX_HOURS:
        return None
    return int(digits)


async def answer_venue(ctx: Context, answer: Answer) -> Outcome:
    """A shared location, a PIN code (its centre) or a booth's code (its centre)."""
    if answer.latitude is not None and answer.longitude is not None:
        venue: events.Venue | None = events.Venue(answer.latitude, answer.longitude)
    else:
        typed = ascii_digits(answer.text).strip()
        if typed.isdigit() and len(typed) == 6:
            venue = events.pin_centre(typed)
            if venue is None:
                return Retry(_("That PIN code is not in Tamil Nadu. Please try again."))
        else:
            venue = await events.booth_venue(ctx.session, answer.text) if typed else None
            if venue is None:
                return Retry(
                    _("Please share the venue's location, or send its PIN code or booth code.")
                )
    assert venue is not None
    if not places.in_tamil_nadu(venue.latitude, venue.longitude):
        return Retry(_("That place is not in Tamil Nadu. Please try again."))
    ctx.data.update(lat=venue.latitude, lon=venue.longitude, venue_default=venue.name)
    return Goto("venue_name")


async def answer_venue_name(ctx: Context, answer: Answer) -> Outcome:
    typed = answer.text.strip()[:255]
    ctx.data["venue_name"] = typed if typed and not words.is_skip(typed) else None
    if not ctx.data["venue_name"] and not ctx.data.get("venue_default"):
        return Retry(_("Please send the venue's name."))
    return Goto("capacity")


def capacity(text: str) -> int | None:
    digits = ascii_digits(text).strip().replace(",", "")
    if not digits.isdigit() or not 1 <= int(digits) <= events.MAX_CAPACITY:
        return None
    return int(digits)


async def after_capacity(ctx: Context, value: int | None) -> Outcome:
    return await stepup.require(ctx, *STEP_UP.then)


async def skip_capacity(ctx: Context, answer: Answer) -> Outcome | None:
    if words.is_skip(answer.text):
        ctx.data["capacity"] = None
        return await stepup.require(ctx, *STEP_UP.then)
    return None


async def summary(ctx: Context) -> str:
    d = ctx.data
    start = datetime.fromisoformat(d["start"])
    lines = [
        _("Please check the event."),
        d["title"],
        _("For: {unit} and every unit below it").format(
            unit=f"{d['unit_name']} ({d['unit_code']})"
        ),
        _("Starts: {when}").format(when=format_moment(start)),
        _("Lasts: {hours} hours").format(hours=format_number(d["hours"])),
        _("Venue: {venue}").format(venue=d.get("venue_name") or d.get("venue_default")),
    ]
    if d.get("capacity"):
        lines.append(_("Places: {count}").format(count=format_number(d["capacity"])))
    return "\n".join(lines)


REFUSED = {
    events.Refusal.NOT_ALLOWED: NOT_YOURS,
    events.Refusal.UNIT_NOT_FOUND: NOT_YOURS,
    events.Refusal.IN_PAST: N_("Please choose a time in the coming year."),
    events.Refusal.TOO_FAR_AHEAD: N_("Please choose a time in the coming year."),
    events.Refusal.OUTSIDE_TAMIL_NADU: N_("That place is not in Tamil Nadu. Please try again."),
}


async def publish(ctx: Context, picked: str) -> Outcome:
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    d = ctx.data
    start = datetime.fromisoformat(d["start"])
    tamil = any("\u0b80" <= c <= "\u0bff" for c in d["title"])
    made = await events.create(
        ctx.session,
        official_member_id=ctx.member_id,
        unit_code=d["unit_code"],
        title=d["title"],
        title_ta=d["title"] if tamil else None,
        type=EventType(d["type"]),
        start=start,
        end=start + timedelta(hours=int(d["hours"])),
        venue=events.Venue(float(d["lat"]), float(d["lon"]), d.get("venue_default")),
        venue_name=d.get("venue_name"),
        capacity=d.get("capacity"),
        now=ctx.now,
        settings=ctx.settings,
        request_key=d.get("request_key"),
    )
    if isinstance(made, events.Refused):
        return Done(_(REFUSED.get(made.reason, N_("Sorry, the event could not be saved."))))
    invitation = await events.publish(ctx.session, made, now=ctx.now, settings=ctx.settings)
    if isinstance(invitation, events.announcements.Refused):
        return Done(_("Sorry, the event could not be saved."))
    await ctx.effect(
        effects.Kind.PUBLISH, effects.publish(invitation.announcement_id, invitation.publish_at)
    )
    return Done(
        _(
            "Your event is published and its members are being invited. Choose it under "
            "Events to see who is coming and the venue code."
        )
    )


FLOW = Flow(
    name="event_new",
    entry="unit",
    requires=Permission(events.EVENTS),
    states={
        "unit": Ask(
            N_("Which unit is the event for? Choose one, or type the code of a unit below yours."),
            choices=unit_choices,
            answer=answer_unit,
            stored_choices=False,
            goes_to=("title",),
        ),
        "title": Ask(
            N_("What is the event called? Write it in Tamil or English."),
            parse=title,
            hint=N_("Please send the name as text."),
            store="title",
            next="type",
        ),
        "type": Ask(
            N_("What kind of event is it?"),
            choices=TYPES,
            words=TYPE_WORDS,
            store="type",
            next="start",
        ),
        "start": Ask(
            N_(
                "When does it start? Write day/month/year hours:minutes on the 24-hour clock, "
                "for example 15/08/2027 18:30 for 6:30 in the evening."
            ),
            answer=answer_start,
            goes_to=("hours",),
        ),
        "hours": Ask(
            N_("How many hours will it last? Send a number from 1 to 24."),
            parse=hours,
            hint=N_("Please send a number from 1 to 24."),
            store="hours",
            next="venue",
        ),
        "venue": Ask(
            N_(
                "Where is it? Share the venue's location (from the venue or picked on the "
                "map), or send its PIN code or booth code."
            ),
            ask_location=True,
            # TRANSLATORS: a Telegram button that shares the location.
            button=N_("Share my location"),
            answer=answer_venue,
            goes_to=("venue_name",),
        ),
        "venue_name": Ask(
            N_("The venue's name, as members will look for it?"),
            answer=answer_venue_name,
            goes_to=("capacity",),
        ),
        "capacity": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_("How many places are there? Send a number, or SKIP for no limit."),
            answer=skip_capacity,
            parse=capacity,
            hint=N_("Please send a number, or SKIP for no limit."),
            store="capacity",
            then=after_capacity,
            goes_to=("confirm", STEP_UP, END),
        ),
        "confirm": Ask(summary, choices=PUBLISH, words=PUBLISH_WORDS, then=publish, goes_to=(END,)),
    },
)
