"""Members vote in party elections (வாக்கு / vote): pick an election open to them, a fresh
SMS code (step-up), the candidates in their language after one sentence on what is and
is not secret, a confirmation, then a receipt code shown this once. "Check my vote"
finds a receipt on the public board.

Every state here is ``private``: the message log keeps no reply of these steps (the
answer that chose the candidate, the candidate's name, the receipt), see bot/engine.py.
The graph: docs/flows/vote.md (generated from :data:`FLOW`)."""

from __future__ import annotations

import uuid

from bot import words
from bot.context import Context
from bot.conversation import END, MEMBER, Answer, Ask, Call, Done, Flow, Goto, Outcome, Retry
from bot.flows import stepup
from core.channels.base import Choice
from core.i18n import N_, _
from core.services import ballots, elections

CHECK = "check"
STEP_UP = Call("stepup", then=("vote", "ballot"))
PICK_WORDS = {CHECK: ("check", "receipt", "counted", "ரசீது", "சரிபார்")}
CONFIRM_WORDS = {
    "cast": ("cast", "vote", *words.YES, *words.FINE, "வாக்களி", "போடு"),
    "change": ("change", "again", "மாற்று"),
    "cancel": (*words.CANCEL, *words.NO),
}
# TRANSLATORS: may go by SMS. What is and is not secret, said before every ballot.
HONESTY = N_(
    "Your vote is secret from the party: nothing links it to you. The chat app can see "
    "these messages."
)
ALREADY = N_("You have already voted in this election.")


async def _open(ctx: Context) -> list[ballots.Open]:
    result: list[ballots.Open] = await ctx.once(
        "vote.open", lambda: ballots.open_for(ctx.session, ctx.member_id, now=ctx.now)
    )
    return result


async def election_choices(ctx: Context) -> tuple[Choice, ...]:
    listed = [Choice(str(e.id), e.title + (" ✓" if e.voted else "")) for e in await _open(ctx)]
    # TRANSLATORS: a WhatsApp list item: at most 24 characters.
    return (*listed, Choice(CHECK, _("Check my vote")))


async def ask_election(ctx: Context) -> str:
    if not any(not e.voted for e in await _open(ctx)):
        return _("There is no election you can vote in now. You can check a receipt.")
    return _("Which election do you want to vote in?")


async def picked_election(ctx: Context, picked: str) -> Outcome:
    if picked == CHECK:
        return Goto("receipt")
    election = next((e for e in await _open(ctx) if str(e.id) == picked), None)
    if election is None:  # closed meanwhile
        return Done(_("Voting in this election has closed."))
    if election.voted:
        return Done(_(ALREADY))
    ctx.data["election"] = picked
    ctx.data["title"] = election.title
    if not await candidate_choices(ctx):
        ctx.data.clear()
        return Done(_("This election has no approved candidates yet."))
    return await stepup.require(ctx, *STEP_UP.then)


async def candidate_choices(ctx: Context) -> tuple[Choice, ...]:
    listed = await ctx.once(
        "vote.candidates",
        lambda: elections.candidates(ctx.session, uuid.UUID(ctx.data["election"])),
    )
    return tuple(Choice(str(c.id), c.label(ctx.language)) for c in listed)


async def ask_ballot(ctx: Context) -> str:
    # Two blocks: by SMS each sentence is its own DLT template (core/dlt_templates.py).
    who = _("{title}: who do you vote for?").format(title=ctx.data.get("title", ""))
    return f"{_(HONESTY)}\n\n{who}"


async def picked_candidate(ctx: Context, picked: str) -> Outcome:
    ctx.data["candidate"] = picked
    return Goto("confirm")


async def ask_confirm(ctx: Context) -> str:
    chosen = {c.id: c.label for c in await candidate_choices(ctx)}
    return _("Your vote: {name}. Once cast it cannot be changed. Cast it?").format(
        name=chosen.get(ctx.data.get("candidate", ""), "")
    )


CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cast", N_("Cast my vote")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("change", N_("Choose again")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)


async def cast(ctx: Context, picked: str) -> Outcome:
    if picked == "cancel":
        ctx.data.clear()
        return Done(_("Cancelled. You have not voted."))
    result = await ballots.cast(
        ctx.session,
        election_id=uuid.UUID(ctx.data["election"]),
        member_id=ctx.member_id,
        candidate_id=uuid.UUID(ctx.data["candidate"]),
        now=ctx.now,
        batch=ctx.settings.election_ballot_batch,
    )
    ctx.data.clear()  # the choice does not stay in the conversation's state
    if isinstance(result, ballots.Refused):
        return Done(
            {
                ballots.Refusal.ALREADY_VOTED: _(ALREADY),
                ballots.Refusal.NOT_OPEN: _("Voting in this election has closed."),
                ballots.Refusal.NOT_ELIGIBLE: _("You are not on the list of voters."),
                ballots.Refusal.BAD_CANDIDATE: _(
                    "That candidate is not on the ballot. Nothing was cast."
                ),
            }[result.reason]
        )
    return Done(
        # TRANSLATORS: the quoted menu item (table: menu.WORDS) is the label, as translated.
        _(
            "Your vote is cast. Receipt: {receipt}\nKeep it: it is shown only now. "
            "Choose 'Vote' to check it was counted."
        ).format(receipt=ballots.show_receipt(result.receipt))
    )


async def answer_receipt(ctx: Context, answer: Answer) -> Outcome:
    found = await ballots.lookup(ctx.session, answer.text)
    if found is None:
        return Retry(_("That receipt code was not found. Please check it and type it again."))
    name = found.candidate.label(ctx.language)
    if found.found is ballots.Found.ON_BOARD:
        return Done(
            _("Counted: {title}, ballot number {number} on the public board, for {name}.").format(
                title=found.election_title, number=found.seq, name=name
            )
        )
    return Done(
        _(
            "Received: {title}, for {name}. It goes on the public board with the next batch "
            "of ballots, or when voting closes."
        ).format(title=found.election_title, name=name)
    )


FLOW = Flow(
    name="vote",
    entry="pick",
    requires=MEMBER,
    states={
        "pick": Ask(
            ask_election,
            choices=election_choices,
            words=PICK_WORDS,
            # TRANSLATORS: the WhatsApp list button: at most 20 characters.
            list_button=N_("Choose"),
            then=picked_election,
            goes_to=("receipt", "ballot", STEP_UP, END),
            stored_choices=False,  # one-off elections: not WhatsApp content kept for good
            private=True,
        ),
        "ballot": Ask(
            ask_ballot,
            choices=candidate_choices,
            # TRANSLATORS: the WhatsApp list button: at most 20 characters.
            list_button=N_("Candidates"),
            then=picked_candidate,
            goes_to=("confirm",),
            stored_choices=False,  # people: not WhatsApp content kept for good
            private=True,
        ),
        "confirm": Ask(
            ask_confirm,
            choices=CONFIRM,
            words=CONFIRM_WORDS,
            next={"change": "ballot"},
            then=cast,
            goes_to=(END,),
            private=True,
        ),
        "receipt": Ask(
            N_("Please type the receipt code you were given when you voted."),
            answer=answer_receipt,
            goes_to=(END,),
            private=True,
        ),
    },
)
