"""The main menu: what a member (and, for officials, their duties) can do.

```mermaid
stateDiagram-v2
    [*] --> main
    main --> signup: Join the party (not yet a member)
    main --> link: Link my phone (Telegram, not yet linked)
    main --> main: My membership / Help
    main --> language: Change language
    main --> verify: Verify new members (officials)
    main --> announce: Send an announcement (officials)
    main --> report: Announcement reports (officials)
    main --> privacy: Delete my details (withdraw consent)
```
"""

from __future__ import annotations

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Goto, Outcome, Question, Retry
from bot.flows import common, membership, report
from core.channels.base import Channel, Choice, Reply
from core.i18n import _
from core.services import members

WORDS = {
    "join": ("join", "signup", "sign up", "register", "சேர", "சேருங்கள்", "உறுப்பினராக"),
    "link": ("link", "login", "log in", "இணை", "உள்நுழை"),
    "membership": ("membership", "my membership", "card", "உறுப்பினர்", "உறுப்பினர் விவரம்"),
    "language": ("language", "lang", "மொழி"),
    "verify": ("verify", "சரிபார்", "சரிபார்ப்பு"),
    "announce": ("announce", "announcement", "அறிவிப்பு"),
    "report": ("report", "reports", "அறிக்கை"),
    "help": ("help", "உதவி"),
    "privacy": ("delete", "delete my details", "delete my data", "privacy", "நீக்கு"),
}


async def menu_choices(ctx: Context) -> tuple[Choice, ...]:
    choices: list[Choice] = []
    if ctx.member is None:
        if ctx.message.channel is Channel.TELEGRAM and ctx.phone is None:
            choices.append(Choice("link", _("Link my phone number")))
        choices.append(Choice("join", _("Join the party")))
    else:
        choices.append(Choice("membership", _("My membership")))
        permissions = await ctx.permissions()
        if "verify_members" in permissions:
            choices.append(Choice("verify", _("Verify new members")))
        if "announce" in permissions:
            choices.append(Choice("announce", _("Send an announcement")))
        if permissions & {"announce", "view_reports"}:
            choices.append(Choice("report", _("Announcement reports")))
    choices.append(Choice("language", _("Change language")))
    choices.append(Choice("help", _("Help")))
    choices.append(Choice("privacy", _("Delete my details")))
    return tuple(choices)


async def ask_main(ctx: Context) -> Reply:
    return Reply(
        _("What would you like to do? Reply with a number."),
        await menu_choices(ctx),
        list_button=_("Choose"),
    )


async def answer_main(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(await menu_choices(ctx), WORDS)
    if picked is None:
        return Retry(_("Sorry, I did not understand that."))
    if picked == "help":
        return Done(common.help_text(ctx))
    if picked == "membership":
        return Done(await membership.describe(ctx))
    if picked == "join":
        return await start_signup(ctx)
    if picked == "link":
        return Goto("contact", flow="link")
    if picked == "language":
        return Goto("choose", flow="language")
    if picked == "verify":
        if not await members.pending_in_scope(ctx.session, ctx.member.id, limit=1):  # type: ignore[union-attr]
            return Done(_("No one is waiting for verification in your area."))
        return Goto("pick", flow="verify")
    if picked == "announce":
        return Goto("scope", flow="announce")
    if picked == "privacy":
        return Goto("confirm", flow="privacy")
    if not await report.latest_choices(ctx):
        return Done(_("You have not sent any announcements yet."))
    return Goto("pick", flow="report")


async def start_signup(ctx: Context) -> Outcome:
    if ctx.member is not None:
        return Done(await membership.describe(ctx))
    if ctx.phone is None:
        ctx.data["then"] = "signup"
        return Goto("contact", flow="link", say=_("First, let us confirm your phone number."))
    return Goto("name", flow="signup")


FLOW = Flow(name="menu", entry="main", states={"main": Question(ask_main, answer_main)})
