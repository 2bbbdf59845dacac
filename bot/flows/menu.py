"""The main menu: what a member (and, for officials, their duties) can do.
The graph: docs/flows/menu.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, Ask, Call, Done, Flow, Goto, Outcome
from bot.flows import common, donate, membership, party, stepup
from core.channels.base import Channel, Choice
from core.i18n import N_, _
from core.services import ballots, donations
from core.services import events as core_events

WORDS = {
    "join": (
        "join",
        "signup",
        "sign up",
        "register",
        "சேர",
        "சேர்",
        "சேருங்கள்",
        "சேரணும்",
        "உறுப்பினராக",
        "உறுப்பினர் ஆக",
        "seru",
        "sera",
    ),
    "link": ("link", "login", "log in", "இணை", "உள்நுழை"),
    "membership": (
        "membership",
        "my membership",
        "card",
        "உறுப்பினர்",
        "உறுப்பினர் விவரம்",
        "உறுப்பினர் அட்டை",
        "அட்டை",
        "என் விவரம்",
    ),
    "language": ("language", "lang", "மொழி"),
    "party": ("party work", "duties", "official", "கட்சிப் பணி", "கட்சி பணி", "பணி"),
    "events": ("event", "events", "நிகழ்வு", "நிகழ்வுகள்", "nigazhvu"),
    "donate": ("donate", "donation", "give", "நன்கொடை", "நன்கொடை அளிக்க", "nankodai"),
    "vote": ("vote", "voting", "election", "வாக்கு", "வாக்களி", "வாக்களிக்க", "தேர்தல்", "ரசீது"),
    "stand": ("stand", "nominate", "candidate", "வேட்பாளர்", "வேட்பாளராக", "போட்டியிட"),
    "help": ("help", "உதவி"),
    "privacy": ("delete", "delete my details", "delete my data", "privacy", "நீக்கு", "தனியுரிமை"),
    "grievance": ("grievance", "complaint", "complaints", "புகார்", "புகார்கள்", "pugar", "pukar"),
    **party.WORDS,  # a duty's word opens it from here too (party.by_word)
}
JOIN_AFTER_LINK = Call("link", then=("signup", "name"))
# A fresh SMS code first (security review M3): on SMS the sender's number is the only
# proof of who they are, and these act on other people or cannot be undone.
ERASE_AFTER_STEP_UP = Call("stepup", then=("privacy", "confirm"))
DONATE_AFTER_LINK = Call("link", then=("donate", "cause"))


LABELS = {
    # TRANSLATORS: a Telegram button (Telegram only: no length limit).
    "link": N_("Link my phone number"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "join": N_("Join the party"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "membership": N_("My membership"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "events": N_("Events"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "donate": N_("Donate"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "vote": N_("Vote"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters. It opens an official's
    # duties (verify, announce, reports, events, complaint desk, elections).
    "party": N_("Party work"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "stand": N_("Stand as candidate"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "language": N_("Change language"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "help": N_("Help"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "privacy": N_("Delete my details"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "grievance": N_("Complaints"),
    **party.LABELS,  # an official's duties: the Party work submenu (bot/flows/party.py)
}
"""The menu's items; which of them someone is shown depends on who they are."""


async def menu_choices(ctx: Context) -> tuple[Choice, ...]:
    shown: list[str] = []
    if ctx.member is None:
        if ctx.message.channel is Channel.TELEGRAM and ctx.phone is None:
            shown.append("link")
        shown.append("join")
    else:
        shown.append("membership")
        about_elections = await ctx.once(
            "menu.elections",
            lambda: ballots.menu_entries(ctx.pg, ctx.member_id, now=ctx.now),
        )
        shown += [entry for entry in ("vote", "stand") if entry in about_elections]
        # An official's duties behind one item, where they were: everyone's menu fits
        # WhatsApp's list of ten, and a member's numbers are the same as before.
        if await party.duty_choices(ctx):
            shown.append("party")
    shown += ["language", "help", "privacy"]
    if ctx.member is not None and (
        # By SMS every line costs: Events only while there is an event to answer.
        ctx.message.channel is not Channel.SMS
        or await core_events.any_upcoming(ctx.pg, ctx.member_id, now=ctx.now)
    ):
        shown.append("events")  # last: the numbers members know stay as they were
    if ctx.member is not None:  # last, so the numbers of the items above stay the same
        shown.append("grievance")
    if ctx.message.channel is not Channel.SMS:
        # A payment link needs a smartphone's browser or UPI app: not offered by SMS.
        shown.append("donate")
    return tuple(Choice(item, _(LABELS[item])) for item in shown)


async def picked(ctx: Context, choice: str) -> Outcome:
    """What a choice leads to; the flows they open list rows the menu reads first (read
    once per message: :meth:`Context.once`)."""
    if choice == "help":
        return Done(common.help_text(ctx))
    if choice == "membership" or (choice == "join" and ctx.member is not None):
        return Done(await membership.describe(ctx))
    if choice == "join" and ctx.phone is None:
        return Call(
            JOIN_AFTER_LINK.flow,
            then=JOIN_AFTER_LINK.then,
            say=_("First, let us confirm your phone number."),
        )
    if choice == "privacy" and await ctx.permissions():  # their position ends too
        return await stepup.require(ctx, *ERASE_AFTER_STEP_UP.then)
    if choice == "donate" and ctx.phone is None:
        return Call(
            DONATE_AFTER_LINK.flow,
            then=DONATE_AFTER_LINK.then,
            say=_("First, let us confirm your phone number."),
        )
    if choice == "donate" and not donations.is_indian(ctx.phone):
        return Done(donate.refusal_text(donations.Refusal.FOREIGN_PHONE))
    return Goto(flow=OPENS[choice])


OPENS = {
    "join": "signup",
    "link": "link",
    "language": "language",
    "privacy": "privacy",
    "events": "events",
    "grievance": "grievance",
    "party": "party",
    "donate": "donate",
    "vote": "vote",
    "stand": "stand",
}

FLOW = Flow(
    name="menu",
    entry="main",
    states={
        "main": Ask(
            N_("What would you like to do? Reply with a number."),
            choices=menu_choices,
            words=WORDS,
            hint=N_("Sorry, I did not understand that."),
            # TRANSLATORS: the WhatsApp list button: at most 20 characters.
            list_button=N_("Choose"),
            sms="",  # by SMS the numbered list alone: it fits one part
            answer=party.by_word,
            then=picked,
            goes_to=(
                END,
                JOIN_AFTER_LINK,
                party.VERIFY_AFTER_STEP_UP,
                ERASE_AFTER_STEP_UP,
                DONATE_AFTER_LINK,
                "signup:name",
                "link:contact",
                "language:choose",
                "party:pick",
                "verify:pick",
                "announce:scope",
                "report:pick",
                "event_new:unit",
                "privacy:confirm",
                "events:pick",
                "grievance:home",
                "desk:queue",
                "donate:cause",
                "vote:pick",
                "run_election:unit",
                "run_election:what",
                "stand:pick",
            ),
        )
    },
)
