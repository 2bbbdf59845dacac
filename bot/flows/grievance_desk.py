"""Officials who handle grievances (the ``handle_grievances`` permission): their queue,
nearest deadline first; open a complaint (the read goes to the access log); acknowledge
it, ask the member a question (the clock waits for the answer), resolve it with a note,
reject it with a reason, or hand it to another handler in their own subtree. Any
complaint of their subtree can be opened by typing its number; another area's is
refused as if it did not exist. The report counts open complaints of their area.

The flow is ``private``: its replies show what members wrote, and the message log keeps
them without text. The graph: docs/flows/grievance_desk.md (generated from
:data:`FLOW`)."""

from __future__ import annotations

import uuid

from bot.context import Context
from bot.conversation import END, Answer, Ask, Done, Flow, Goto, Outcome, Permission, Retry
from bot.flows.grievance import status_name, subject_line
from core.channels.base import Channel, Choice
from core.i18n import N_, _, local_name
from core.models import Grievance
from core.services import access_log, grievance_reports, grievances, officials

PAGE = 8
ACTION_WORDS = {
    "ack": ("ack", "acknowledge", "பார்த்தேன்", "ஏற்பு"),
    "ask": ("ask", "question", "கேள்", "கேள்வி"),
    "resolve": ("resolve", "resolved", "தீர்வு", "தீர்ந்தது"),
    "reject": ("reject", "நிராகரி"),
    "reassign": ("reassign", "transfer", "மாற்று", "ஒப்படை"),
}
REFUSED = {
    grievances.Refusal.UNKNOWN: N_("There is no complaint with that number in your area."),
    grievances.Refusal.CLOSED: N_("That complaint is already closed."),
    grievances.Refusal.NOT_NOW: N_("That complaint has already been acknowledged."),
    grievances.Refusal.OUTSIDE: N_("You can hand complaints only to officials in your area."),
}


def refused(refusal: grievances.Refusal) -> Outcome:
    return Done(_(REFUSED[refusal]))


async def queue_choices(ctx: Context) -> tuple[Choice, ...]:
    tickets = await ctx.once(
        "desk.queue", lambda: grievances.queue(ctx.session, ctx.member_id, limit=PAGE)
    )
    shown = [
        Choice(
            t.ticket_number,
            ("!" if t.priority == "urgent" else "")
            + f"{t.ticket_number} · {grievances.due_text(grievances.due(t))}",
        )
        for t in tickets
    ]
    # TRANSLATORS: the last item of an official's complaint queue.
    shown.append(Choice("report", _("Report for my area")))
    return tuple(shown)


async def open_typed(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(await queue_choices(ctx), {}) or answer.text
    if picked == "report":
        return Done(await report_text(ctx))
    if grievances.parse_number(picked) is None:
        return Retry(_("Please reply with a number from the list."))
    ticket = await grievances.for_official(ctx.session, ctx.member_id, picked)
    if isinstance(ticket, grievances.Refusal):
        return Retry(_(REFUSED[ticket]))
    ctx.data["number"] = ticket.ticket_number
    return Goto("ticket")


async def _ticket(ctx: Context) -> Grievance | None:
    found = await grievances.for_official(ctx.session, ctx.member_id, ctx.data.get("number", ""))
    return None if isinstance(found, grievances.Refusal) else found


async def describe(ctx: Context) -> str:
    ticket = await _ticket(ctx)
    if ticket is None:
        return _(REFUSED[grievances.Refusal.UNKNOWN])
    member_id = ticket.member_id
    if member_id is not None:
        await ctx.once(
            f"desk.read.{ticket.id}",
            lambda: access_log.record(
                ctx.session, ctx.member_id, [member_id], access_log.Read.GRIEVANCE,
                now=ctx.now,
            ),
        )  # fmt: skip
    label = grievances.category_label(ctx.settings, ticket.category, ctx.language.value)
    details = ticket.description
    if ctx.message.channel is Channel.SMS and len(details) > grievances.QUESTION_MAX:
        details = details[: grievances.QUESTION_MAX - 1] + "…"  # ten DLT slots
    blocks = [
        _("Complaint {number}: {status}").format(
            number=ticket.ticket_number, status=status_name(ticket.status)
        ),
        _("Your complaint: {category}").format(category=label),
        subject_line(ticket.subject),
        _("Details: {text}").format(text=details),
    ]
    for event in await grievances.history(ctx.session, ticket.id):
        if event.kind == "asked" and event.note:
            blocks.append(_("Asked: {question}").format(question=event.note))
        elif event.kind == "answered" and event.note:
            blocks.append(_("Member: {text}").format(text=event.note[: grievances.QUESTION_MAX]))
    if ticket.attachments:
        blocks.append(_("Attachments: {count}").format(count=len(ticket.attachments)))
    blocks.append(_("Deadline: {when}").format(when=grievances.due_text(grievances.due(ticket))))
    return "\n\n".join(blocks)


async def action_choices(ctx: Context) -> tuple[Choice, ...]:
    ticket = await _ticket(ctx)
    if ticket is None or not grievances.is_open(ticket):
        return ()
    shown = []
    if ticket.status == "submitted":
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        shown.append(Choice("ack", _("Acknowledge")))
    shown += [
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        Choice("ask", _("Ask the member")),
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        Choice("resolve", _("Resolve")),
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        Choice("reject", _("Reject")),
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        Choice("reassign", _("Hand to another")),
    ]
    return tuple(shown)


async def on_action(ctx: Context, answer: Answer) -> Outcome:
    choices = await action_choices(ctx)
    if not choices:
        return Done()
    picked = answer.pick(choices, ACTION_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    if picked == "ack":
        result = await grievances.acknowledge(ctx.session, ctx.member_id, ctx.data["number"],
                                              now=ctx.now)  # fmt: skip
        if isinstance(result, grievances.Refusal):
            return refused(result)
        ctx.effect_ids.extend(result.effects)
        return Done(_("Acknowledged. The member has been told."))
    if picked == "reassign" and not await handler_choices(ctx):
        return Retry(_("There is no other official in your area to hand it to."))
    return Goto(picked)


async def take_question(ctx: Context, answer: Answer) -> Outcome:
    question = answer.text.strip()
    if not question:
        return Retry(_("Please write the question."))
    if len(question) > grievances.QUESTION_MAX:
        return Retry(_("Please keep it to {count} characters.").format(
            count=grievances.QUESTION_MAX))  # fmt: skip
    result = await grievances.ask(ctx.session, ctx.member_id, ctx.data["number"], question,
                                  now=ctx.now)  # fmt: skip
    if isinstance(result, grievances.Refusal):
        return refused(result)
    ctx.effect_ids.extend(result.effects)
    return Done(_("Sent to the member. The deadline waits until they answer."))


async def take_note(ctx: Context, answer: Answer) -> Outcome:
    return await _close(ctx, answer, grievances.resolve, _("Resolved. The member has been told."))


async def take_reason(ctx: Context, answer: Answer) -> Outcome:
    return await _close(ctx, answer, grievances.reject, _("Rejected. The member has been told."))


async def _close(ctx: Context, answer: Answer, action: object, said: str) -> Outcome:
    note = answer.text.strip()
    if not note:
        return Retry(_("Please write a few words for the member."))
    if len(note) > grievances.NOTE_MAX:
        return Retry(_("Please keep it to {count} characters.").format(count=grievances.NOTE_MAX))
    assert callable(action)
    result = await action(ctx.session, ctx.member_id, ctx.data["number"], note, now=ctx.now)
    if isinstance(result, grievances.Refusal):
        return refused(result)
    ctx.effect_ids.extend(result.effects)
    return Done(said)


async def handler_choices(ctx: Context) -> tuple[Choice, ...]:
    handlers = await ctx.once(
        "desk.handlers", lambda: grievances.handlers_within(ctx.session, ctx.member_id)
    )
    return tuple(
        Choice(str(h.member_id), f"{h.name[:16]} · {h.unit.get(ctx.language.value)[:11]}")
        for h in handlers
    )


async def reassigned(ctx: Context, picked: str) -> Outcome:
    result = await grievances.reassign(
        ctx.session, ctx.settings, ctx.member_id, ctx.data["number"], uuid.UUID(picked),
        now=ctx.now,
    )  # fmt: skip
    if isinstance(result, grievances.Refusal):
        return refused(result)
    ctx.effect_ids.extend(result.effects)
    return Done(_("Handed over. They and the member have been told."))


async def report_text(ctx: Context) -> str:
    roles = [
        r for r in await officials.official_roles(ctx.session, ctx.member_id)
        if grievances.HANDLE in r.permissions
    ]  # fmt: skip
    if not roles:
        return _(REFUSED[grievances.Refusal.UNKNOWN])
    found = await grievance_reports.report(ctx.session, roles[0].unit_code, now=ctx.now)
    assert found is not None
    lines = [
        _("Complaints in {unit}: {open} open, {overdue} past a deadline.").format(
            unit=roles[0].unit_code, open=found.open, overdue=found.overdue
        )
    ]
    for _code, name, name_ta, count in found.by_unit:
        lines.append(f"  {local_name(name, name_ta, ctx.language.value)}: {count}")
    for category_id, count in found.by_category:
        label = grievances.category_label(ctx.settings, category_id, ctx.language.value)
        lines.append(f"  {label}: {count}")
    lines.append(", ".join(f"{label} {n}" for label, n in found.by_age))
    if found.in_time_percent is not None:
        lines.append(
            _("Resolved within their deadline: {share} of {count}.").format(
                share=f"{found.in_time_percent}%", count=found.resolved
            )
        )
    return "\n".join(lines)


FLOW = Flow(
    name="desk",
    entry="queue",
    requires=Permission(grievances.HANDLE),
    private=True,
    states={
        "queue": Ask(
            N_("Your complaints, nearest deadline first. Choose one, or type a complaint number."),
            choices=queue_choices,
            stored_choices=False,
            answer=open_typed,
            goes_to=("ticket", END),
        ),
        "ticket": Ask(
            describe,
            choices=action_choices,
            stored_choices=False,
            answer=on_action,
            goes_to=("ask", "resolve", "reject", "reassign", END),
        ),
        "ask": Ask(
            N_("What would you like to ask the member?"),
            answer=take_question,
            goes_to=(END,),
        ),
        "resolve": Ask(
            N_("How was it resolved? This note goes to the member."),
            answer=take_note,
            goes_to=(END,),
        ),
        "reject": Ask(
            N_("Why is it rejected? This reason goes to the member."),
            answer=take_reason,
            goes_to=(END,),
        ),
        "reassign": Ask(
            N_("To whom?"),
            choices=handler_choices,
            stored_choices=False,
            then=reassigned,
            goes_to=(END,),
        ),
    },
)
