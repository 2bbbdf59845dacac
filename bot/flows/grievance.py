"""Members raise a complaint (புகார் / grievance) and follow their own: the category,
a subject, the description, on WhatsApp and Telegram a photo or voice note and the
place, then a ticket number to quote. "My complaints" shows each one's status by number,
takes more information while it is open, and a rating once it is resolved ("poor" sends
it one level up as an appeal). An official's question, or a rating, is also taken from
the member's next message at the menu (:func:`waiting`, called by bot/engine.py).

Replies here show what the member wrote: the flow is ``private`` (the message log keeps
them without text). The graph: docs/flows/grievance.md (generated from :data:`FLOW`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from bot import words
from bot.context import Context
from bot.conversation import (
    END,
    MEMBER,
    Answer,
    Ask,
    Done,
    Flow,
    Goto,
    Outcome,
    Retry,
)
from core.channels.base import Channel, Choice
from core.i18n import N_, _, format_moment
from core.models import Grievance
from core.services import grievances

RATING_WORDS = {
    "good": ("good", "நன்று", "நல்லது", "நல்லா", "திருப்தி", "nalla", "nanru"),
    "poor": ("poor", "bad", "மோசம்", "திருப்தி இல்லை", "mosam", "mosham"),
}
HOME_WORDS = {
    "raise": ("new", "raise", "புதிய", "புதிய புகார்", "புகார் செய்ய"),
    "mine": ("mine", "my complaints", "என் புகார்கள்", "நிலை", "status"),
}
CONFIRM_WORDS = {
    "send": ("send", "submit", *words.YES, *words.FINE, "அனுப்பு", "அனுப்புங்கள்"),
    "cancel": (*words.CANCEL, *words.NO),
}
STATUS = {
    # TRANSLATORS: a complaint's status, shown to the member and officials.
    "submitted": N_("waiting to be seen"),
    # TRANSLATORS: a complaint's status.
    "acknowledged": N_("seen by an official"),
    # TRANSLATORS: a complaint's status.
    "in_progress": N_("being handled"),
    # TRANSLATORS: a complaint's status.
    "resolved": N_("resolved"),
    # TRANSLATORS: a complaint's status.
    "closed": N_("closed"),
    # TRANSLATORS: a complaint's status.
    "rejected": N_("closed without action"),
}
PROBLEMS = {
    grievances.AttachmentProblem.NOT_PHOTO_OR_VOICE: N_(
        "Only a photo or a voice note can be attached, not a file or a video."
    ),
    grievances.AttachmentProblem.TOO_BIG: N_("That is too big. Please send a smaller photo."),
}
CLOSED = N_("Complaint {number} is closed: nothing can be added. You can raise a new one.")
NO_MEDIA_BY_SMS = N_("SMS cannot carry photos or voice notes. Please write it in words.")


def status_name(status: object) -> str:
    return _(STATUS.get(str(status), str(status)))


# --- raising -----------------------------------------------------------------------------


HOME = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("raise", N_("New complaint")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("mine", N_("My complaints")),
)


async def category_choices(ctx: Context) -> tuple[Choice, ...]:
    return tuple(
        Choice(c.id, c.label(ctx.language.value)) for c in grievances.categories(ctx.settings)
    )


async def home(ctx: Context, picked: str) -> Outcome:
    if picked == "raise":
        ctx.data["request_key"] = uuid.uuid4().hex
        return Goto("category")
    if not await grievances.mine(ctx.session, ctx.member_id, limit=1):
        return Done(_("You have not raised any complaints."))
    return Goto("mine")


def refuse_media(ctx: Context, answer: Answer) -> Retry | None:
    """SMS carries no media; a refused attachment says why."""
    if not answer.media:
        return None
    if ctx.message.channel is Channel.SMS:
        return Retry(_(NO_MEDIA_BY_SMS))
    for media in answer.media:
        problem = grievances.attachment_problem(
            ctx.settings, media.kind, media.content_type, media.size
        )
        if problem is not None:
            return Retry(_(PROBLEMS[problem]))
    return None


def keep_media(ctx: Context, answer: Answer) -> None:
    kept = ctx.data.setdefault("attachments", [])
    for media in answer.media:
        kept.append(grievances.attachment_reference(ctx.message.provider, media.kind,
                                                    media.reference))  # fmt: skip


async def take_subject(ctx: Context, answer: Answer) -> Outcome:
    if refused := refuse_media(ctx, answer):
        return refused
    subject = answer.text.strip()
    if not subject:
        return Retry(_("Please write a few words about it."))
    if len(subject) > grievances.SUBJECT_MAX:
        return Retry(
            _("Please keep it to {count} characters: the details come next.").format(
                count=grievances.SUBJECT_MAX
            )
        )
    ctx.data["subject"] = subject
    return Goto("description")


async def take_description(ctx: Context, answer: Answer) -> Outcome:
    if refused := refuse_media(ctx, answer):
        return refused
    if answer.media:
        keep_media(ctx, answer)
    described = answer.text.strip()
    limit = ctx.settings.grievance_description_max
    if not described:
        return Retry(_("Please write what happened in words."))
    if len(described) > limit:
        return Retry(
            _("That is too long: please write at most {count} characters.").format(count=limit)
        )
    ctx.data["description"] = described
    if ctx.message.channel is Channel.SMS:
        return Goto("confirm")  # no photo, no location by SMS
    return Goto("attachment")


async def take_attachment(ctx: Context, answer: Answer) -> Outcome:
    if refused := refuse_media(ctx, answer):
        return refused
    if answer.media:
        keep_media(ctx, answer)
        return Goto("location", say=_("Attached."))
    if words.is_skip(answer.text):
        return Goto("location")
    return Retry(_("Please send a photo or a voice note, or SKIP."))


async def take_location(ctx: Context, answer: Answer) -> Outcome:
    if answer.latitude is not None and answer.longitude is not None:
        ctx.data["location"] = [answer.latitude, answer.longitude]
        return Goto("confirm")
    if words.is_skip(answer.text):
        return Goto("confirm")
    return Retry(_("Please share the location, or send SKIP."))


CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("send", N_("Send")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)


async def summary(ctx: Context) -> str:
    d = ctx.data
    label = grievances.category_label(ctx.settings, d["category"], ctx.language.value)
    attached = len(d.get("attachments") or [])
    blocks = [
        _("Your complaint: {category}").format(category=label),
        subject_line(d["subject"]),
    ]
    if attached:
        blocks.append(_("Attachments: {count}").format(count=attached))
    blocks.append(_("Send it?"))
    return "\n\n".join(blocks)


def subject_line(subject: str) -> str:
    """The member's subject inside a sentence of ours (by SMS, DLT sends only
    registered sentences, with what members wrote in their slots)."""
    return _("Subject: {subject}").format(subject=subject)


async def submit(ctx: Context, picked: str) -> Outcome:
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    d = ctx.data
    location = d.get("location")
    raised = await grievances.raise_ticket(
        ctx.session,
        ctx.settings,
        member_id=ctx.member_id,
        category_id=d["category"],
        subject=d["subject"],
        description=d["description"],
        attachments=list(d.get("attachments") or []),
        location=(location[0], location[1]) if location else None,
        request_key=d.get("request_key"),
        now=ctx.now,
    )
    ctx.effect_ids.extend(raised.effects)
    # TRANSLATORS: may go by SMS: 70 Tamil characters fit one part.
    said = _("Your complaint is registered. Its number is {number}.").format(number=raised.number)
    if raised.priority == "urgent":
        said += "\n\n" + _("It is urgent: the district and state officials are told too.")
    return Done(said)


# --- following one's own -------------------------------------------------------------


async def mine_choices(ctx: Context) -> tuple[Choice, ...]:
    tickets = await ctx.once("grievance.mine", lambda: grievances.mine(ctx.session, ctx.member_id))
    return tuple(Choice(t.ticket_number, t.ticket_number) for t in tickets)


async def take_number(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(await mine_choices(ctx), {}) or answer.text
    if grievances.parse_number(picked) is None:
        return Retry(_("Please reply with a number from the list."))
    ticket = await grievances.for_member(ctx.session, ctx.member_id, picked)
    if isinstance(ticket, grievances.Refusal):
        return Retry(_("You have no complaint with that number."))
    ctx.data["number"] = ticket.ticket_number
    return Goto("ticket")


async def _mine(ctx: Context) -> Grievance | None:
    found = await grievances.for_member(ctx.session, ctx.member_id, ctx.data.get("number", ""))
    return None if isinstance(found, grievances.Refusal) else found


async def describe(ctx: Context) -> str:
    ticket = await _mine(ctx)
    if ticket is None:
        return _("You have no complaint with that number.")
    blocks = [
        _("Complaint {number}: {status}").format(
            number=ticket.ticket_number, status=status_name(ticket.status)
        ),
        subject_line(ticket.subject),
    ]
    if ticket.created_at is not None:
        blocks.append(_("Raised: {when}").format(when=format_moment(ticket.created_at)))
    if ticket.resolution_notes:
        blocks.append(_("Answer: {note}").format(note=ticket.resolution_notes))
    return "\n\n".join(blocks)


async def ticket_choices(ctx: Context) -> tuple[Choice, ...]:
    ticket = await _mine(ctx)
    if ticket is None:
        return ()
    if grievances.is_open(ticket):
        # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
        return (Choice("add", _("Add information")),)
    if str(ticket.status) in ("resolved", "rejected") and ticket.rating is None:
        return rating_choices()
    return ()


def rating_choices() -> tuple[Choice, ...]:
    return (
        # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
        Choice("good", _("Good")),
        # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
        Choice("poor", _("Poor")),
    )


async def on_ticket(ctx: Context, answer: Answer) -> Outcome | None:
    choices = await ticket_choices(ctx)
    if not choices:  # closed, or rated: nothing can be added
        return Done(_(CLOSED).format(number=ctx.data["number"]))
    picked = answer.pick(choices, RATING_WORDS)
    if picked == "add":
        return Goto("add")
    if picked in grievances.RATINGS:
        return await rated(ctx, ctx.data["number"], picked)
    return Retry(_("Please reply with a number from the list."))


async def rated(ctx: Context, number: str, rating: str) -> Outcome:
    result = await grievances.rate(ctx.session, ctx.settings, ctx.member_id, number, rating,
                                   now=ctx.now)  # fmt: skip
    if isinstance(result, grievances.Refusal):
        return Done(_("This complaint cannot be rated now."))
    ctx.effect_ids.extend(result.effects)
    if rating == "good":
        return Done(_("Thank you for telling us."))
    return Done(
        _("We are sorry. Complaint {number} goes higher up as an appeal.").format(number=number)
    )


async def take_more(ctx: Context, answer: Answer) -> Outcome:
    return await add_to(ctx, ctx.data["number"], answer)


async def add_to(ctx: Context, number: str, answer: Answer) -> Outcome:
    if refused := refuse_media(ctx, answer):
        return refused
    written = answer.text.strip()
    if not written and not answer.media:
        return Retry(_("Please write what happened in words."))
    if len(written) > ctx.settings.grievance_description_max:
        return Retry(
            _("That is too long: please write at most {count} characters.").format(
                count=ctx.settings.grievance_description_max
            )
        )
    attachments = [grievances.attachment_reference(ctx.message.provider, m.kind, m.reference)
                   for m in answer.media]  # fmt: skip
    result = await grievances.answer(ctx.session, ctx.member_id, number, written,
                                     attachments=attachments, now=ctx.now)  # fmt: skip
    if result is grievances.Refusal.CLOSED:
        return Done(_(CLOSED).format(number=number))
    if isinstance(result, grievances.Refusal):
        return Done(_("You have no complaint with that number."))
    ctx.effect_ids.extend(result.effects)
    return Done(_("Thank you. It is added to complaint {number}.").format(number=number))


# --- the member's next message, when something waits for it ------------------------------

_WAITING = text(
    "SELECT ticket_number, waiting_since IS NOT NULL AS asked FROM grievances"
    " WHERE member_id = :m AND ("
    "  (waiting_since IS NOT NULL AND status IN ('submitted', 'acknowledged', 'in_progress'))"
    "  OR (status IN ('resolved', 'rejected') AND rating IS NULL AND resolved_at > :since))"
    " ORDER BY waiting_since IS NULL, waiting_since, resolved_at DESC LIMIT 1"
)
RATE_WITHIN_DAYS = 3
"""How long after a resolution a bare "1" or "2" at the menu is taken as its rating."""


async def waiting(ctx: Context, answer: Answer) -> Outcome | None:
    """The member's message as the answer to an official's question (any text or media),
    or as a rating (only a rating's number or word); None when nothing waits."""
    row = (
        await ctx.session.execute(
            _WAITING,
            {"m": ctx.member_id, "since": ctx.now - timedelta(days=RATE_WITHIN_DAYS)},
        )
    ).first()
    if row is None:
        return None
    number, asked = row
    if asked:
        if not (answer.text or answer.media):
            return None
        return await add_to(ctx, number, answer)
    picked = answer.pick(rating_choices(), RATING_WORDS)
    if picked is None:
        return None
    return await rated(ctx, number, picked)


FLOW = Flow(
    name="grievance",
    entry="home",
    requires=MEMBER,
    private=True,
    states={
        "home": Ask(
            N_("Complaints: what would you like to do?"),
            choices=HOME,
            words=HOME_WORDS,
            then=home,
            goes_to=("category", "mine", END),
        ),
        "category": Ask(
            N_("What is your complaint about?"),
            choices=category_choices,
            store="category",
            next="subject",
        ),
        "subject": Ask(
            N_("In a few words, what is it? For example: ration card refused."),
            answer=take_subject,
            goes_to=("description",),
        ),
        "description": Ask(
            N_("Please describe it: what happened, where and when."),
            # TRANSLATORS: by SMS: 70 Tamil characters fit one part.
            sms=N_("Please describe it in words: what happened, where and when."),
            answer=take_description,
            goes_to=("attachment", "confirm"),
        ),
        "attachment": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_("You may send a photo or a voice note about it. Otherwise send SKIP."),
            answer=take_attachment,
            goes_to=("location",),
        ),
        "location": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_("Where did it happen? Share the location, or send SKIP."),
            ask_location=True,
            # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
            button=N_("Share my location"),
            answer=take_location,
            goes_to=("confirm",),
        ),
        "confirm": Ask(summary, choices=CONFIRM, words=CONFIRM_WORDS, then=submit, goes_to=(END,)),
        "mine": Ask(
            N_("Which complaint? Choose one or type its number."),
            choices=mine_choices,
            stored_choices=False,
            answer=take_number,
            goes_to=("ticket",),
        ),
        "ticket": Ask(
            describe,
            choices=ticket_choices,
            stored_choices=False,
            answer=on_ticket,
            goes_to=("add", END),
        ),
        "add": Ask(
            N_("Please write what you would like to add."),
            answer=take_more,
            goes_to=(END,),
        ),
    },
)
