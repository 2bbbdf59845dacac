"""Officials set up an election from chat (தேர்தல் நடத்த / run an election): the unit
(their own or one below), the position, a title, when voting opens and closes, the
candidates' membership numbers (approved at once); then a fresh SMS code and a summary
to confirm. The worker opens and closes it on time (core/services/elections.py).
The graph: docs/flows/run_election.md (generated from :data:`FLOW`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.context import Context
from bot.conversation import END, Answer, Ask, Call, Done, Flow, Goto, Outcome, Permission, Retry
from bot.flows import announce, stepup
from core.channels.base import Choice
from core.i18n import INDIA, N_, _, format_moment, local_name
from core.models import OrganizationUnit, Position
from core.services import elections, officials
from core.validation import ascii_digits

STEP_UP = Call("stepup", then=("run_election", "confirm"))
NUMBER = re.compile(r"VCK-[A-Z]{3}-\d{7}")
MAX_CANDIDATES = 9


async def pending_choices(ctx: Context) -> tuple[Choice, ...]:
    """Candidacies waiting for this official's approval (read once per message)."""
    found = await ctx.once(
        "run_election.pending",
        lambda: elections.awaiting_approval(ctx.session, ctx.member_id),
    )
    return tuple(
        Choice(str(n.candidate_id), f"{n.candidate.label(ctx.language)} · {n.title}") for n in found
    )


WHAT = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("new", N_("New election")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("approve", N_("Approve")),
)


async def approve(ctx: Context, picked: str) -> Outcome:
    found = await elections.awaiting_approval(ctx.session, ctx.member_id)
    nomination = next((n for n in found if str(n.candidate_id) == picked), None)
    if nomination is None:
        return Done(_("That candidacy is no longer waiting for approval."))
    done = await elections.approve(
        ctx.session, nomination.election_id, nomination.candidate_id, by=ctx.member_id
    )
    if done is not True:
        return Done(_("That candidacy is no longer waiting for approval."))
    return Done(
        _("Approved: {name} in {title}.").format(
            name=nomination.candidate.label(ctx.language), title=nomination.title
        )
    )


async def unit_choices(ctx: Context) -> tuple[Choice, ...]:
    return await announce.scope_choices(ctx)


async def answer_unit(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(await unit_choices(ctx), {})
    code = picked or answer.text.strip().upper()
    units = await officials.units_within(
        ctx.session, ctx.member_id, officials.ANNOUNCE, code_prefix=code, limit=1
    )
    if not units or units[0].code != code:
        return Retry(_("You can run an election only in your own unit or in units below it."))
    ctx.data.update(unit_code=units[0].code, unit_name=local_name(units[0].name, units[0].name_ta))
    return Goto("position")


async def position_choices(ctx: Context) -> tuple[Choice, ...]:
    async def read() -> list[Position]:
        unit_type = await ctx.session.scalar(
            select(OrganizationUnit.type).where(OrganizationUnit.code == ctx.data["unit_code"])
        )
        rows = await ctx.session.scalars(
            select(Position).where(Position.unit_type == unit_type).order_by(Position.level)
        )
        return list(rows)[:9]

    found = await ctx.once("run_election.positions", read)
    return tuple(Choice(p.name, local_name(p.name, p.name_ta)) for p in found)


async def picked_position(ctx: Context, picked: str) -> Outcome:
    ctx.data["position"] = picked
    labels = {c.id: c.label for c in await position_choices(ctx)}
    ctx.data["position_label"] = labels.get(picked, picked)
    return Goto("title")


def title(text: str) -> str | None:
    return text.strip()[:255] or None


def _moment(ctx: Context, text: str) -> datetime | Retry:
    match = announce.MOMENT.match(ascii_digits(text))
    try:
        if match is None:
            raise ValueError("not dd/mm/yyyy hh:mm")
        day, month, year, hour, minute = (int(g) for g in match.groups())
        moment = datetime(year, month, day, hour, minute, tzinfo=INDIA)
    except ValueError:
        return Retry(_("Please write the time like 15/08/2027 18:30."))
    if moment <= ctx.now or moment > ctx.now + timedelta(days=365):
        return Retry(_("Please choose a time in the coming year."))
    return moment


async def answer_start(ctx: Context, answer: Answer) -> Outcome:
    moment = _moment(ctx, answer.text)
    if isinstance(moment, Retry):
        return moment
    ctx.data["start"] = moment.isoformat()
    return Goto("end")


async def answer_end(ctx: Context, answer: Answer) -> Outcome:
    moment = _moment(ctx, answer.text)
    if isinstance(moment, Retry):
        return moment
    if moment <= datetime.fromisoformat(ctx.data["start"]):
        return Retry(_("Voting must close after it opens."))
    ctx.data["end"] = moment.isoformat()
    return Goto("candidates")


async def answer_candidates(ctx: Context, answer: Answer) -> Outcome:
    numbers = list(dict.fromkeys(NUMBER.findall(answer.text.upper())))
    if not numbers or len(numbers) > MAX_CANDIDATES:
        return Retry(_("Please type the candidates' membership numbers, like VCK-CHN-0000003."))
    ctx.data["candidates"] = numbers
    return await stepup.require(ctx, *STEP_UP.then)


async def summary(ctx: Context) -> str:
    d = ctx.data
    return "\n".join(
        [
            _("Please check the election."),
            f"{d['title']}",
            _("Unit: {unit}").format(unit=f"{d['unit_name']} ({d['unit_code']})"),
            _("Position: {position}").format(position=d.get("position_label", d["position"])),
            _("Voting: {start} to {end}").format(
                start=format_moment(datetime.fromisoformat(d["start"])),
                end=format_moment(datetime.fromisoformat(d["end"])),
            ),
            _("Candidates: {numbers}").format(numbers=", ".join(d["candidates"])),
        ]
    )


CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("create", N_("Create")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)
CONFIRM_WORDS = {"create": ("create", "yes", "ஆம்", "சரி"), "cancel": ("cancel", "no", "வேண்டாம்")}


async def create(ctx: Context, picked: str) -> Outcome:
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    d = ctx.data
    made = await elections.create(
        ctx.session,
        official_member_id=ctx.member_id,
        unit_code=d["unit_code"],
        position=d["position"],
        title=d["title"],
        voting_start=datetime.fromisoformat(d["start"]),
        voting_end=datetime.fromisoformat(d["end"]),
        candidates=tuple(d["candidates"]),
        now=ctx.now,
    )
    if isinstance(made, elections.Refused):
        if made.reason is elections.Refusal.CANDIDATE_NOT_FOUND:
            return Done(
                _("{number} is not an active member of this unit. Nothing was saved.").format(
                    number=made.detail
                )
            )
        return Done(_("The election could not be created. Nothing was saved."))
    return Done(
        _("The election is set. Voting opens {start}; members of the unit can vote from the menu.")
        .format(start=format_moment(datetime.fromisoformat(d["start"])))
    )  # fmt: skip


FLOW = Flow(
    name="run_election",
    entry="what",
    requires=Permission(*elections.RUN_ELECTIONS),
    states={
        "what": Ask(
            N_("What would you like to do?"),
            choices=WHAT,
            next={"new": "unit", "approve": "approve"},
        ),
        "approve": Ask(
            N_("Whose candidacy do you approve?"),
            choices=pending_choices,
            stored_choices=False,
            then=approve,
            goes_to=(END,),
        ),
        "unit": Ask(
            N_("For which unit is the election? Choose one, or type the code of a unit below."),
            choices=unit_choices,
            answer=answer_unit,
            goes_to=("position",),
        ),
        "position": Ask(
            N_("Which position is it for?"),
            choices=position_choices,
            then=picked_position,
            goes_to=("title",),
        ),
        "title": Ask(
            N_("The election's title, as members will see it?"),
            parse=title,
            hint=N_("Please send the title as text."),
            store="title",
            next="start",
        ),
        "start": Ask(
            N_("When does voting open? For example 15/08/2027 08:00."),
            answer=answer_start,
            goes_to=("end",),
        ),
        "end": Ask(
            N_("When does voting close? For example 15/08/2027 20:00."),
            answer=answer_end,
            goes_to=("candidates",),
        ),
        "candidates": Ask(
            N_(
                "The candidates' membership numbers, separated by spaces? They are approved "
                "at once."
            ),
            answer=answer_candidates,
            goes_to=("confirm", STEP_UP, END),
        ),
        "confirm": Ask(summary, choices=CONFIRM, words=CONFIRM_WORDS, then=create, goes_to=(END,)),
    },
)
