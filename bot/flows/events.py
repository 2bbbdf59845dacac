"""Events (நிகழ்வு / event): a member sees the upcoming events of their units and the
units above them, says yes or no or gives up their place, and checks in at the venue by
sharing their location (on WhatsApp, with the venue code when the event asks for it).
Officials also see the event live and its venue code. The graph: docs/flows/events.md
(generated from :data:`FLOW`)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from bot import words
from bot.context import Context
from bot.conversation import END, MEMBER, Answer, Ask, Call, Done, Flow, Goto, Outcome, Retry
from bot.flows import event_new, stepup
from core.channels.base import Channel, Choice
from core.i18n import N_, _, format_moment, format_number
from core.models.events import AttendanceStatus, Event
from core.services import attendance, checkin, events
from core.services.attendance import Rsvp
from core.services.checkin import CheckIn, Sighting
from core.validation import ascii_digits

MAX_LISTED = 9


async def upcoming(ctx: Context) -> list[Event]:
    return await ctx.once(  # type: ignore[no-any-return]
        "events.upcoming",
        lambda: events.upcoming_for(ctx.session, ctx.member_id, now=ctx.now, limit=MAX_LISTED),
    )


NEW = "new"


async def event_choices(ctx: Context) -> tuple[Choice, ...]:
    listed = [
        Choice(str(e.id), f"{events.event_title(e, ctx.language)} — {format_moment(e.start_time)}")
        for e in await upcoming(ctx)
    ]
    if events.EVENTS in await ctx.permissions():
        listed.insert(0, Choice(NEW, _("Create an event")))
    return tuple(listed)


async def none_upcoming(ctx: Context, answer: Answer) -> Outcome | None:
    if not await event_choices(ctx):
        return Done(_("There are no upcoming events in your area."))
    return None


async def picked(ctx: Context, event_id: str) -> Outcome:
    if event_id == NEW:
        return Goto(flow="event_new")
    ctx.data["event_id"] = event_id
    return Goto("event")


async def current(ctx: Context) -> Event | None:
    try:
        event_id = uuid.UUID(str(ctx.data.get("event_id")))
    except ValueError:
        return None
    return await ctx.once("events.current", lambda: ctx.session.get(Event, event_id))


async def my_status(ctx: Context, event: Event) -> AttendanceStatus | None:
    found = await ctx.session.scalar(
        text("SELECT status FROM event_attendees WHERE event_id = :e AND member_id = :m"),
        {"e": event.id, "m": ctx.member_id},
    )
    return AttendanceStatus(found) if found else None


STATUS_LINES = {
    AttendanceStatus.REGISTERED: N_("You have a place."),
    AttendanceStatus.CONFIRMED: N_("You have a place."),
    AttendanceStatus.WAITLISTED: N_("You are on the waiting list."),
    AttendanceStatus.ATTENDED: N_("You have checked in."),
}
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
YES = Choice("yes", N_("Yes, I will come"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
NO = Choice("no", N_("No"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
GIVE_UP = Choice("cancel", N_("Cancel my place"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
CHECK_IN = Choice("checkin", N_("Check in"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
LIVE = Choice("live", N_("Live count"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
CODE = Choice("code", N_("Venue code"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
CANCEL_EVENT = Choice("cancel_event", N_("Cancel the event"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
MOVE_EVENT = Choice("move_event", N_("Move the event"))
# TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
WALK_IN = Choice("walk_in", N_("Check in a member"))
CANCEL_AFTER_STEP_UP = Call("stepup", then=("events", "cancel_event"))
MOVE_AFTER_STEP_UP = Call("stepup", then=("events", "move_event"))
RSVP_WORDS = {
    "yes": ("yes", "y", "ஆம்", "ஆமாம்", "சரி", "வருகிறேன்", "varuven", "aam"),
    "no": ("no", "n", "இல்லை", "வரவில்லை", "illai"),
    "cancel": ("cancel my place", "இடத்தை ரத்து செய்"),
    "checkin": ("check in", "checkin", "வருகை", "வந்துவிட்டேன்"),
}
EVENT_WORDS = {
    **RSVP_WORDS,
    "yes": (*RSVP_WORDS["yes"], *words.COMING),
    "no": (*RSVP_WORDS["no"], *words.NOT_COMING),
}
"""On the event's screen, a yes or a no in every form the invitation takes (bot/rsvp.py);
not for "Cancel the event?", where வருவேன் means nothing."""


async def event_choices_for(ctx: Context) -> tuple[Choice, ...]:
    event = await current(ctx)
    if event is None:
        return ()
    status = await my_status(ctx, event)
    shown: list[Choice] = []
    if status in (AttendanceStatus.REGISTERED, AttendanceStatus.CONFIRMED):
        shown += [CHECK_IN, GIVE_UP]
    elif status is AttendanceStatus.WAITLISTED:
        shown += [YES, GIVE_UP]
    elif status is not AttendanceStatus.ATTENDED:
        shown += [YES, NO]
        if event.walk_ins:
            shown.append(CHECK_IN)
    if ctx.member_id in await attendance.event_officials(ctx.session, event):
        shown += [LIVE, CODE, CANCEL_EVENT, MOVE_EVENT]
    if await checkin.may_check_in_others(ctx.session, event.id, ctx.member_id):
        shown.append(WALK_IN)
    return tuple(Choice(c.id, _(c.label)) for c in shown)


async def ask_event(ctx: Context) -> str:
    event = await current(ctx)
    if event is None:
        return _("That event is no longer listed.")
    lines = [events.describe(event, ctx.language)]
    if event.max_attendees:
        lines.append(_("Places: {count}").format(count=format_number(event.max_attendees)))
    status = await my_status(ctx, event)
    if status in STATUS_LINES:
        lines.append(_(STATUS_LINES[status]))
    return "\n".join(lines)


RSVP_SAID = {
    Rsvp.REGISTERED: N_("Your place is booked. We will remind you before the event."),
    Rsvp.ALREADY_REGISTERED: N_("You already have a place."),
    Rsvp.DECLINED: N_("Thank you for letting us know."),
    Rsvp.PLACE_GIVEN_UP: N_("Your place is cancelled. Thank you for letting us know."),
    Rsvp.NOTHING_TO_CANCEL: N_("You had no place to cancel."),
    Rsvp.NOT_FOUND: N_("That event is no longer listed."),
    Rsvp.CANCELLED: N_("This event has been cancelled."),
    Rsvp.CLOSED: N_("Registration for this event has closed."),
    Rsvp.NOT_INVITED: N_("This event is not for your area."),
}
WAITING = N_("The event is full. You are number {position} on the waiting list.")


def rsvp_said(said: attendance.Answered) -> str:
    """What a yes or no is answered with, here and from the invitation (bot/rsvp.py)."""
    if said.result in (Rsvp.WAITLISTED, Rsvp.ALREADY_WAITLISTED):
        return _(WAITING).format(position=format_number(said.position or 0))
    return _(RSVP_SAID[said.result])


async def act(ctx: Context, choice: str) -> Outcome:
    event = await current(ctx)
    if event is None:
        return Done(_("That event is no longer listed."))
    if choice == "checkin":
        needs_code = event.venue_code_required and ctx.message.channel is not Channel.TELEGRAM
        return Goto("code" if needs_code else "location")
    if choice == "live":
        return Done(await live(ctx, event))
    if choice == "code":
        code = events.venue_code(ctx.settings, event.id, ctx.now)
        return Done(
            _("Venue code: {code}. It changes every {minutes} minutes.").format(
                code=code, minutes=ctx.settings.event_venue_code_minutes
            )
        )
    if choice == "walk_in":
        return Goto("walk_in")
    if choice == "cancel_event":  # a fresh SMS code first: it tells everyone coming
        return await stepup.require(ctx, *CANCEL_AFTER_STEP_UP.then)
    if choice == "move_event":
        return await stepup.require(ctx, *MOVE_AFTER_STEP_UP.then)
    answer = attendance.yes if choice == "yes" else attendance.no
    said = await answer(ctx.session, event.id, ctx.member_id, now=ctx.now, settings=ctx.settings)
    return Done(rsvp_said(said))


async def live(ctx: Context, event: Event) -> str:
    found = await checkin.report(ctx.session, event.id)
    assert found is not None
    lines = [events.event_title(event, ctx.language), count_line(found.counts)]
    lines += [f"{unit.name}: {count_line(unit.counts)}" for unit in found.by_unit[:10]]
    return "\n".join(lines)


def count_line(counts: dict[str, int]) -> str:
    n = format_number
    return _("Places {registered} · waiting {waiting} · came {attended} · absent {absent}").format(
        registered=n(counts.get("registered", 0) + counts.get("confirmed", 0)),
        waiting=n(counts.get("waitlisted", 0)),
        attended=n(counts.get("attended", 0)),
        absent=n(counts.get("no_show", 0)),
    )


def venue_code(text: str) -> str | None:
    digits = ascii_digits(text).strip()
    return digits if len(digits) == 4 and digits.isdigit() else None


async def take_code(ctx: Context, code: str) -> Outcome:
    event = await current(ctx)
    if event is None or not events.venue_code_ok(ctx.settings, event.id, code, ctx.now):
        return Retry(_("That is not the venue code. Please type the code shown at the venue."))
    return Goto("location")


CONFIRM_CANCEL = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("yes", N_("Yes, cancel it")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("no", N_("No, keep it")),
)


async def ask_cancel(ctx: Context) -> str:
    event = await current(ctx)
    title = events.event_title(event, ctx.language) if event else ""
    return _("Cancel {title}? Everyone who said yes will be told.").format(title=title)


async def cancel_event(ctx: Context, picked: str) -> Outcome:
    event = await allowed_event(ctx)
    if picked != "yes" or event is None:
        return Done(_("Nothing was changed."))
    told = await events.cancel(ctx.session, event, now=ctx.now)
    return Done(
        _("The event is cancelled; {count} members were told.").format(count=format_number(told))
    )


async def allowed_event(ctx: Context) -> Event | None:
    """The event on screen, locked, when the official may still change it."""
    event = await current(ctx)
    if event is None or ctx.member_id not in await attendance.event_officials(ctx.session, event):
        return None
    return await attendance.lock(ctx.session, event.id)


async def move_event(ctx: Context, answer: Answer) -> Outcome:
    moment = event_new.moment(answer.text)
    if moment is None:
        return Retry(_("Please write the time like 15/08/2027 18:30."))
    event = await allowed_event(ctx)
    if event is None:
        return Done(_("Nothing was changed."))
    length = (event.end_time or event.start_time + events.DEFAULT_LENGTH) - event.start_time
    told = await events.move(ctx.session, event, start=moment, end=moment + length, now=ctx.now)
    if isinstance(told, events.Refused):
        return Retry(_("Please choose a time in the coming year."))
    return Done(
        _("The event is moved; {count} members were told.").format(count=format_number(told))
    )


WALK_IN_SAID = {
    CheckIn.ACCEPTED: N_("{name} is checked in."),
    CheckIn.ALREADY: N_("{name} has already checked in."),
    CheckIn.NOT_OPEN: N_("Check-in opens one hour before the start."),
    CheckIn.OVER: N_("Check-in for this event has closed."),
    CheckIn.CANCELLED: N_("This event has been cancelled."),
    CheckIn.NOT_FOUND: N_("That event is no longer listed."),
    CheckIn.NOT_ALLOWED: N_("Only officials of this event's area can check members in."),
}


async def take_walk_in(ctx: Context, answer: Answer) -> Outcome:
    event = await current(ctx)
    if event is None:
        return Done(_("That event is no longer listed."))
    checked = await checkin.walk_in(
        ctx.session, event.id, ctx.member_id, answer.text, now=ctx.now, settings=ctx.settings
    )
    if checked.result is CheckIn.NO_SUCH_MEMBER:
        return Retry(_("No active member has that membership number. Please check it."))
    said = _(WALK_IN_SAID[checked.result]).format(name=checked.member_name or "")
    if checked.result in (CheckIn.ACCEPTED, CheckIn.ALREADY):
        return Retry(said + "\n" + _("Type the next membership number, or MENU to finish."))
    return Done(said)


CHECK_IN_SAID = {
    CheckIn.ACCEPTED: N_("You are checked in. Thank you for coming!"),
    CheckIn.ALREADY: N_("You have already checked in."),
    CheckIn.NOT_OPEN: N_("Check-in opens one hour before the start."),
    CheckIn.OVER: N_("Check-in for this event has closed."),
    CheckIn.CANCELLED: N_("This event has been cancelled."),
    CheckIn.NOT_FOUND: N_("That event is no longer listed."),
    CheckIn.NOT_REGISTERED: N_("You do not have a place at this event."),
    CheckIn.FORWARDED: N_("Please share your own location, not a forwarded one."),
    CheckIn.STALE: N_("That location is too old. Please share your location again now."),
    CheckIn.CODE_WRONG: N_("That is not the venue code. Please type the code shown at the venue."),
}
TOO_FAR = N_("You are {distance} from the venue. Please check in when you are there.")


def distance_text(metres: float) -> str:
    if metres < 1000:
        return _("{metres} m").format(metres=format_number(round(metres)))
    return _("{km} km").format(km=f"{metres / 1000:.1f}")


async def take_location(ctx: Context, answer: Answer) -> Outcome:
    try:
        event_id = uuid.UUID(str(ctx.data.get("event_id")))
    except ValueError:
        return Done(_("That event is no longer listed."))
    if answer.latitude is None or answer.longitude is None:
        return Retry(_("Please share your location with the button, at the venue."))
    where = answer.location
    sighting = Sighting(
        answer.latitude,
        answer.longitude,
        accuracy_m=where.accuracy_m if where else None,
        forwarded=bool(where and where.forwarded),
        sent_at=where.sent_at if where else None,
    )
    telegram = ctx.message.channel is Channel.TELEGRAM
    checked = await checkin.check_in(
        ctx.session,
        event_id,
        ctx.member_id,
        sighting,
        now=ctx.now,
        settings=ctx.settings,
        code=ctx.data.get("code"),
        location_proves=telegram,
    )
    if checked.result is CheckIn.TOO_FAR:
        assert checked.distance_m is not None
        return Retry(_(TOO_FAR).format(distance=distance_text(checked.distance_m)))
    if checked.result is CheckIn.STALE or checked.result is CheckIn.FORWARDED:
        return Retry(_(CHECK_IN_SAID[checked.result]))
    # At the venue, with thousands checking in at once: the answer alone, no menu after
    # it (it would be a second message to every member); the menu is a word away.
    return Done(_(CHECK_IN_SAID[checked.result]), menu=False)


FLOW = Flow(
    name="events",
    entry="pick",
    requires=MEMBER,
    states={
        "pick": Ask(
            N_("Upcoming events. Which one?"),
            choices=event_choices,
            stored_choices=False,
            answer=none_upcoming,
            then=picked,
            goes_to=("event", "event_new:unit", END),
        ),
        "event": Ask(
            ask_event,
            choices=event_choices_for,
            words=EVENT_WORDS,
            then=act,
            goes_to=(
                "walk_in",
                "code",
                "location",
                END,
                "cancel_event",
                "move_event",
                CANCEL_AFTER_STEP_UP,
                MOVE_AFTER_STEP_UP,
            ),
        ),
        "cancel_event": Ask(
            ask_cancel, choices=CONFIRM_CANCEL, words=RSVP_WORDS, then=cancel_event, goes_to=(END,)
        ),
        "walk_in": Ask(
            N_("The membership number of the member at the venue? For example VCK-VPM-0000001."),
            answer=take_walk_in,
            goes_to=(END,),
        ),
        "move_event": Ask(
            N_(
                "The new start? Write day/month/year hours:minutes, for example "
                "15/08/2027 18:30. Everyone who said yes will be told."
            ),
            answer=move_event,
            goes_to=(END,),
        ),
        "code": Ask(
            N_("Please type the 4-digit venue code shown at the venue."),
            parse=venue_code,
            hint=N_("The venue code has 4 digits."),
            store="code",
            then=take_code,
            goes_to=("location",),
        ),
        "location": Ask(
            N_("Please share your location now, at the venue."),
            ask_location=True,
            # TRANSLATORS: a Telegram button that shares the location.
            button=N_("Share my location"),
            answer=take_location,
            goes_to=(END,),
        ),
    },
)
