"""The main menu: what a member (and, for officials, their duties) can do.
The graph: docs/flows/menu.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, Ask, Call, Done, Flow, Goto, Outcome
from bot.flows import common, membership, report, verify
from core.channels.base import Channel, Choice
from core.i18n import N_, _

WORDS = {
    "join": ("join", "signup", "sign up", "register", "சேர", "சேருங்கள்", "உறுப்பினராக"),
    "link": ("link", "login", "log in", "இணை", "உள்நுழை"),
    "membership": ("membership", "my membership", "card", "உறுப்பினர்", "உறுப்பினர் விவரம்"),
    "language": ("language", "lang", "மொழி"),
    "verify": ("verify", "சரிபார்", "சரிபார்ப்பு"),
    "announce": ("announce", "announcement", "அறிவிப்பு"),
    "report": ("report", "reports", "அறிக்கை", "நிலவரம்"),
    "help": ("help", "உதவி"),
    "privacy": ("delete", "delete my details", "delete my data", "privacy", "நீக்கு"),
}
JOIN_AFTER_LINK = Call("link", then=("signup", "name"))


async def menu_choices(ctx: Context) -> tuple[Choice, ...]:
    choices: list[Choice] = []
    if ctx.member is None:
        if ctx.message.channel is Channel.TELEGRAM and ctx.phone is None:
            # TRANSLATORS: a WhatsApp list item: at most 21 characters.
            choices.append(Choice("link", _("Link my phone number")))
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        choices.append(Choice("join", _("Join the party")))
    else:
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        choices.append(Choice("membership", _("My membership")))
        permissions = await ctx.permissions()
        if "verify_members" in permissions:
            # TRANSLATORS: a WhatsApp list item: at most 21 characters.
            choices.append(Choice("verify", _("Verify new members")))
        if "announce" in permissions:
            # TRANSLATORS: a WhatsApp list item: at most 21 characters.
            choices.append(Choice("announce", _("Send an announcement")))
        if permissions & {"announce", "view_reports"}:
            # TRANSLATORS: a WhatsApp list item: at most 21 characters.
            choices.append(Choice("report", _("Announcement reports")))
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    choices.append(Choice("language", _("Change language")))
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    choices.append(Choice("help", _("Help")))
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    choices.append(Choice("privacy", _("Delete my details")))
    return tuple(choices)


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
    if choice == "verify" and not await verify.pending_choices(ctx):
        return Done(_("No one is waiting for verification in your area."))
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
            then=picked,
            goes_to=(
                END,
                JOIN_AFTER_LINK,
                "signup:name",
                "link:contact",
                "language:choose",
                "verify:pick",
                "announce:scope",
                "report:pick",
                "privacy:confirm",
            ),
        )
    },
)
