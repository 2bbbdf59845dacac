"""Party work (கட்சிப் பணி): an official's duties behind one item of the main menu, so
everyone's menu fits WhatsApp's list of ten (core/channels/twilio.py LIST_PICKER_MAX) and
costs fewer SMS lines. Shown only to someone with at least one duty; a duty's word
(announce, அறிவிப்பு, verify, …) typed at the main menu still opens it directly
(:func:`by_word`). The graph: docs/flows/party.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, Answer, Ask, Call, Done, Flow, Goto, Outcome, Permission
from bot.flows import report, run_election, stepup, verify
from bot.words import fold
from core import deliveries
from core.channels.base import Choice
from core.i18n import N_, _
from core.services import elections, events, grievances, officials
from core.validation import parse_choice_number

WORDS = {
    "verify": ("verify", "சரிபார்", "சரிபார்ப்பு", "புதிய உறுப்பினர்களைச் சரிபார்க்க"),
    "announce": ("announce", "announcement", "அறிவிப்பு"),
    "report": ("report", "reports", "அறிக்கை", "நிலவரம்"),
    "event_new": ("new event", "create event", "create an event", "புதிய நிகழ்வு"),
    "desk": ("desk", "queue", "complaint desk", "வந்த புகார்கள்", "புகார் மேசை"),
    "run_election": ("run election", "new election", "தேர்தல் நடத்த", "புதிய தேர்தல்"),
}
"""A duty's typed words: accepted here and, for someone allowed it, at the main menu."""

LABELS = {
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "verify": N_("Verify new members"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "announce": N_("Send an announcement"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "report": N_("Announcement reports"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "event_new": N_("Create an event"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "desk": N_("Complaint desk"),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    "run_election": N_("Run an election"),
}
"""The duties, in the order the submenu shows them."""

ALLOWED_BY = {
    "verify": frozenset({officials.VERIFY_MEMBERS}),
    "announce": frozenset({officials.ANNOUNCE}),
    "report": frozenset({officials.ANNOUNCE, deliveries.VIEW_REPORTS}),
    "event_new": frozenset({events.EVENTS}),
    "desk": frozenset({grievances.HANDLE}),
    "run_election": frozenset(elections.RUN_ELECTIONS),
}
"""Any one of these permissions allows the duty."""
ANY_DUTY = frozenset().union(*ALLOWED_BY.values())

# A fresh SMS code first (security review M3): verifying acts on other people.
VERIFY_AFTER_STEP_UP = Call("stepup", then=("verify", "pick"))


async def duty_choices(ctx: Context) -> tuple[Choice, ...]:
    """The duties ``ctx``'s member holds; () for anyone else."""
    if ctx.member is None:
        return ()
    permissions = await ctx.permissions()
    return tuple(Choice(duty, _(LABELS[duty])) for duty in LABELS if ALLOWED_BY[duty] & permissions)


async def opened(ctx: Context, duty: str) -> Outcome:
    """Where a duty leads (from this submenu or a word at the main menu)."""
    if duty == "verify":
        if not await verify.pending_choices(ctx):
            return Done(_("No one is waiting for verification in your area."))
        return await stepup.require(ctx, *VERIFY_AFTER_STEP_UP.then)
    if duty == "run_election" and not await run_election.pending_choices(ctx):
        return Goto("unit", flow="run_election")  # nothing to approve: a new election
    if duty == "report" and not await report.latest_choices(ctx):
        return Done(_("You have not sent any announcements yet."))
    return Goto(flow=duty)


async def by_word(ctx: Context, answer: Answer) -> Outcome | None:
    """A duty's word or label typed at the main menu, by someone allowed it: the duty,
    though the main menu shows only "Party work". A number or a button is the menu's."""
    if answer.choice_id or parse_choice_number(answer.text) is not None:
        return None
    folded = fold(answer.text)
    if not folded:
        return None
    for choice in await duty_choices(ctx):
        if folded == fold(choice.label) or folded in (fold(w) for w in WORDS[choice.id]):
            return await opened(ctx, choice.id)
    return None


FLOW = Flow(
    name="party",
    entry="pick",
    requires=Permission(*ANY_DUTY),
    states={
        "pick": Ask(
            N_("Party work: what would you like to do? Reply with a number."),
            choices=duty_choices,
            words=WORDS,
            hint=N_("Sorry, I did not understand that."),
            # TRANSLATORS: the WhatsApp list button: at most 20 characters.
            list_button=N_("Choose"),
            sms="",  # by SMS the numbered list alone, as the main menu
            then=opened,
            goes_to=(
                END,
                VERIFY_AFTER_STEP_UP,
                "verify:pick",
                "announce:scope",
                "report:pick",
                "event_new:unit",
                "desk:queue",
                "run_election:unit",
                "run_election:what",
            ),
        )
    },
)
