"""Members put themselves forward as candidates while nominations are open (Stand as
candidate / வேட்பாளராக): the election, then a confirmation; an official of the unit
approves the candidacy (bot/flows/run_election.py). The graph: docs/flows/stand.md
(generated from :data:`FLOW`)."""

from __future__ import annotations

import uuid

from bot import words
from bot.context import Context
from bot.conversation import END, MEMBER, Ask, Done, Flow, Goto, Outcome
from core.channels.base import Choice
from core.i18n import N_, _
from core.services import elections

CONFIRM_WORDS = {"stand": (*words.YES, *words.FINE, "stand"), "cancel": (*words.CANCEL, *words.NO)}


async def election_choices(ctx: Context) -> tuple[Choice, ...]:
    found = await ctx.once(
        "stand.open",
        lambda: elections.open_for_nomination(ctx.session, ctx.member_id, now=ctx.now),
    )
    return tuple(Choice(str(election_id), title) for election_id, title in found)


async def picked(ctx: Context, election_id: str) -> Outcome:
    titles = {c.id: c.label for c in await election_choices(ctx)}
    ctx.data.update(election=election_id, title=titles.get(election_id, ""))
    return Goto("confirm")


async def ask_confirm(ctx: Context) -> str:
    return _("Stand as a candidate in {title}? An official of the unit must approve it.").format(
        title=ctx.data.get("title", "")
    )


CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("stand", N_("Nominate me")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)


async def nominate(ctx: Context, choice: str) -> Outcome:
    if choice == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    made = await elections.nominate(
        ctx.session, uuid.UUID(ctx.data["election"]), member_id=ctx.member_id, by=ctx.member_id
    )
    if isinstance(made, elections.Refused):
        return Done(_("Nominations for this election have closed."))
    return Done(
        _("You are nominated in {title}. An official of the unit will approve it.").format(
            title=ctx.data.get("title", "")
        )
    )


FLOW = Flow(
    name="stand",
    entry="pick",
    requires=MEMBER,
    states={
        "pick": Ask(
            N_("In which election do you want to stand as a candidate?"),
            choices=election_choices,
            stored_choices=False,
            then=picked,
            goes_to=("confirm",),
        ),
        "confirm": Ask(
            ask_confirm, choices=CONFIRM, words=CONFIRM_WORDS, then=nominate, goes_to=(END,)
        ),
    },
)
