"""Officials verify pending signups in their own unit or below, oldest first.
The graph: docs/flows/verify.md (generated from :data:`FLOW`)."""

from __future__ import annotations

import uuid

from bot import words
from bot.context import Context
from bot.conversation import END, Answer, Ask, Done, Flow, Goto, Outcome, Permission
from bot.flows import reach
from core.channels.base import Choice
from core.i18n import N_, _, format_day, in_language, local_name
from core.services import access_log, members, officials

PAGE = 9
CONFIRM_WORDS = {
    "verify": ("verify", *words.YES, *words.FINE, "சரிபார்", "சரிபாருங்கள்"),
    "back": words.BACK,
}


async def pending_choices(ctx: Context) -> tuple[Choice, ...]:
    pending = await ctx.once("verify.pending", lambda: _pending_logged(ctx))
    return tuple(
        Choice(
            str(p.member_id),
            f"{p.name} · {p.membership_number} · {local_name(p.unit_name, p.unit_name_ta)}",
        )
        for p in pending
    )


async def _pending_logged(ctx: Context) -> list[members.PendingMember]:
    """The list of signups waiting, with the read logged (once per message)."""
    pending = await members.pending_in_scope(ctx.session, ctx.member_id, limit=PAGE)
    await access_log.record(
        ctx.session,
        ctx.member_id,
        (p.member_id for p in pending),
        access_log.Read.VERIFICATION_LIST,
        now=ctx.now,
    )
    return pending


async def pick(ctx: Context, picked: str) -> Outcome:
    ctx.data["member_id"] = picked
    return Goto("confirm")


async def nobody_left(ctx: Context, answer: Answer) -> Outcome | None:
    """Someone else may have verified them all meanwhile."""
    if not await pending_choices(ctx):
        return Done(_("No one is waiting for verification in your area."))
    return None


CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("verify", N_("Verify")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("back", N_("Back")),
)


async def summary(ctx: Context) -> str:
    pending = await members.membership_summary(ctx.session, uuid.UUID(ctx.data["member_id"]))
    if pending is None:  # erased since the list was shown
        return _("This member's details are no longer here.")
    await access_log.record(
        ctx.session,
        ctx.member_id,
        [uuid.UUID(ctx.data["member_id"])],
        access_log.Read.MEMBER_DETAILS,
        now=ctx.now,
    )
    return _(
        "Name: {name}\nNumber: {number}\nUnit: {unit}\nJoined: {joined}\n\nVerify this member?"
    ).format(
        name=pending.name,
        number=pending.membership_number,
        unit=local_name(pending.unit_name, pending.unit_name_ta) if pending.unit_name else "-",
        joined=format_day(pending.joined_at.date()) if pending.joined_at else "-",
    )


async def confirmed(ctx: Context, picked: str) -> Outcome:
    member_id = uuid.UUID(ctx.data["member_id"])
    result = await members.verify(
        ctx.session, member_id=member_id, official_member_id=ctx.member_id, now=ctx.now
    )
    if not result.ok:
        return Done(_("You cannot verify this member: they are outside your area."))
    await tell_member(ctx, member_id)
    return Done(_("Done. {name} is now an active member.").format(name=result.name))


async def tell_member(ctx: Context, member_id: uuid.UUID) -> None:
    summary = await members.membership_summary(ctx.session, member_id)
    if summary is None:
        return
    text = in_language(
        summary.language,
        # TRANSLATORS: goes by SMS: 70 Tamil characters fit one part, longer ones take
        # a part per 67.
        N_("Good news! Your party membership {number} has been verified. It is now active."),
    ).format(number=summary.membership_number)
    await reach.tell(ctx, member_id, text)


FLOW = Flow(
    name="verify",
    entry="pick",
    requires=Permission(officials.VERIFY_MEMBERS),
    states={
        "pick": Ask(
            N_("Who would you like to verify?"),
            choices=pending_choices,
            stored_choices=False,
            answer=nobody_left,
            then=pick,
            goes_to=("confirm", END),
        ),
        "confirm": Ask(
            summary,
            choices=CONFIRM,
            words=CONFIRM_WORDS,
            next={"back": "pick"},
            then=confirmed,
            goes_to=(END,),
        ),
    },
)
