"""The main menu: what a member (and, for officials, their duties) can do.
The graph: docs/flows/menu.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, Ask, Call, Done, Flow, Goto, Outcome
from bot.flows import common, donate, events, membership, report, run_election, stepup, verify
from core.channels.base import Channel, Choice
from core.i18n import N_, _
from core.services import ballots, donations, elections

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
    "verify": ("verify", "சரிபார்", "சரிபார்ப்பு", "புதிய உறுப்பினர்களைச் சரிபார்க்க"),
    "announce": ("announce", "announcement", "அறிவிப்பு"),
    "report": ("report", "reports", "அறிக்கை", "நிலவரம்"),
    "events": ("event", "events", "நிகழ்வு", "நிகழ்வுகள்", "nigazhvu"),
    "donate": ("donate", "donation", "give", "நன்கொடை", "நன்கொடை அளிக்க", "nankodai"),
    "vote": ("vote", "voting", "election", "வாக்கு", "வாக்களி", "வாக்களிக்க", "தேர்தல்", "ரசீது"),
    "stand": ("stand", "nominate", "candidate", "வேட்பாளர்", "வேட்பாளராக", "போட்டியிட"),
    "run_election": ("run election", "new election", "தேர்தல் நடத்த", "புதிய தேர்தல்"),
    "help": ("help", "உதவி"),
    "privacy": ("delete", "delete my details", "delete my data", "privacy", "நீக்கு", "தனியுரிமை"),
    "grievance": ("grievance", "complaint", "complaints", "புகார்", "புகார்கள்", "pugar", "pukar"),
    "desk": ("desk", "queue", "complaint desk", "புகார் மேசை"),
}
JOIN_AFTER_LINK = Call("link", then=("signup", "name"))
# A fresh SMS code first (security review M3): on SMS the sender's number is the only
# proof of who they are, and these act on other people or cannot be undone.
VERIFY_AFTER_STEP_UP = Call("stepup", then=("verify", "pick"))
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
    "verify": N_("Verify new members"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "announce": N_("Send an announcement"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "report": N_("Announcement reports"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "donate": N_("Donate"),
    "vote": N_("Vote"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "stand": N_("Stand as candidate"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "run_election": N_("Run an election"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "language": N_("Change language"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "help": N_("Help"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "privacy": N_("Delete my details"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "grievance": N_("Complaints"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "desk": N_("Complaint desk"),
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
            lambda: ballots.menu_entries(ctx.session, ctx.member_id, now=ctx.now),
        )
        shown += [entry for entry in ("vote", "stand") if entry in about_elections]
        permissions = await ctx.permissions()
        if "verify_members" in permissions:
            shown.append("verify")
        if "announce" in permissions:
            shown.append("announce")
        if permissions & {"announce", "view_reports"}:
            shown.append("report")
        if permissions & set(elections.RUN_ELECTIONS):
            shown.append("run_election")
    shown += ["language", "help", "privacy"]
    if ctx.member is not None and (
        # By SMS every line costs: Events only while there is an event to answer.
        ctx.message.channel is not Channel.SMS or await events.upcoming(ctx)
    ):
        shown.append("events")  # last: the numbers members know stay as they were
    if ctx.member is not None:  # last, so the numbers of the items above stay the same
        shown.append("grievance")
        if "handle_grievances" in await ctx.permissions():
            shown.append("desk")
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
    if choice == "verify":
        if not await verify.pending_choices(ctx):
            return Done(_("No one is waiting for verification in your area."))
        return await stepup.require(ctx, *VERIFY_AFTER_STEP_UP.then)
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
    if choice == "run_election" and not await run_election.pending_choices(ctx):
        return Goto("unit", flow="run_election")  # nothing to approve: a new election
    if choice == "report" and not await report.latest_choices(ctx):
        return Done(_("You have not sent any announcements yet."))
    return Goto(flow=OPENS[choice])


OPENS = {
    "join": "signup",
    "link": "link",
    "language": "language",
    "verify": "verify",
    "announce": "announce",
    "report": "report",
    "privacy": "privacy",
    "events": "events",
    "grievance": "grievance",
    "desk": "desk",
    "donate": "donate",
    "vote": "vote",
    "run_election": "run_election",
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
            then=picked,
            goes_to=(
                END,
                JOIN_AFTER_LINK,
                VERIFY_AFTER_STEP_UP,
                ERASE_AFTER_STEP_UP,
                DONATE_AFTER_LINK,
                "signup:name",
                "link:contact",
                "language:choose",
                "verify:pick",
                "announce:scope",
                "report:pick",
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
