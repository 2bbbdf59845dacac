"""Officials verify pending signups in their own unit or below.

```mermaid
stateDiagram-v2
    [*] --> pick: pending members in the official's area (oldest first)
    pick --> confirm
    confirm --> [*]: Verify → active, verified_at, verified_by; member told
    confirm --> pick: Back
```
"""

from __future__ import annotations

import uuid

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Goto, Outcome, Question, Retry
from bot.flows import reach
from core.channels.base import Choice, Reply
from core.i18n import N_, _, format_day, in_language
from core.services import members

PAGE = 9
CONFIRM_WORDS = {"verify": ("verify", "yes", "ஆம்", "சரிபார்"), "back": ("back", "பின்")}


async def pending_choices(ctx: Context) -> tuple[Choice, ...]:
    assert ctx.member is not None
    pending = await members.pending_in_scope(ctx.session, ctx.member.id, limit=PAGE)
    return tuple(
        Choice(str(p.member_id), f"{p.name} · {p.membership_number} · {p.unit_name}")
        for p in pending
    )


async def ask_pick(ctx: Context) -> Reply:
    return Reply(
        _("Who would you like to verify?"), await pending_choices(ctx), stored_choices=False
    )


async def answer_pick(ctx: Context, answer: Answer) -> Outcome:
    choices = await pending_choices(ctx)
    if not choices:
        return Done(_("No one is waiting for verification in your area."))
    picked = answer.pick(choices, {})
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    ctx.data["member_id"] = picked
    return Goto("confirm")


def confirm_choices() -> tuple[Choice, ...]:
    return (Choice("verify", _("Verify")), Choice("back", _("Back")))


async def ask_confirm(ctx: Context) -> Reply:
    summary = await members.membership_summary(ctx.session, uuid.UUID(ctx.data["member_id"]))
    text = _(
        "Name: {name}\nNumber: {number}\nUnit: {unit}\nJoined: {joined}\n\nVerify this member?"
    ).format(
        name=summary.name,
        number=summary.membership_number,
        unit=summary.unit_name,
        joined=format_day(summary.joined_at.date()) if summary.joined_at else "-",
    )
    return Reply(text, confirm_choices())


async def answer_confirm(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(confirm_choices(), CONFIRM_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    if picked == "back":
        return Goto("pick")
    assert ctx.member is not None
    member_id = uuid.UUID(ctx.data["member_id"])
    result = await members.verify(
        ctx.session, member_id=member_id, official_member_id=ctx.member.id, now=ctx.now
    )
    if not result.ok:
        return Done(_("You cannot verify this member: they are outside your area."))
    await tell_member(ctx, member_id)
    return Done(_("Done. {name} is now an active member.").format(name=result.name))


async def tell_member(ctx: Context, member_id: uuid.UUID) -> None:
    summary = await members.membership_summary(ctx.session, member_id)
    text = in_language(
        summary.language,
        N_("Good news! Your party membership {number} has been verified. It is now active."),
    ).format(number=summary.membership_number)
    await reach.tell(ctx, member_id, text)


FLOW = Flow(
    name="verify",
    entry="pick",
    states={
        "pick": Question(ask_pick, answer_pick),
        "confirm": Question(ask_confirm, answer_confirm),
    },
)
