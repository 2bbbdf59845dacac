"""A member answers an event's invitation from the invitation itself: a button under it,
or a yes or no typed when no question is pending (core/services/invitations.py says how
each channel carries the answers and how an answer finds its event).

The engine (bot/engine.py) asks here twice:

- :func:`tapped`, for a button press: an invitation's button (``rsvp:…``) names its
  invitation, so it is answered wherever the conversation is; a question that was
  pending is asked again after the answer, nothing entered is lost;
- :func:`typed`, for a message when no question is pending (no conversation, or the
  menu): only when the text is a yes or a no (1/2, ஆம்/வருவேன், இல்லை/வர முடியாது,
  yes/no: bot/words.py), one statement finds the member's latest invitation they have
  not answered. At the menu a bare number is the menu's, unless the invitation came
  after the menu was shown. A member in the middle of a question is never asked here:
  their "1" answers that question.

The answer is the events flow's RSVP (capacity, waitlist, deadline, a double tap), said
with the events flow's own sentences, and alone: no menu after it (a reply to an
invitation is often an SMS, where the menu costs parts; it is a word away).
"""

from __future__ import annotations

from bot import words
from bot.context import Context
from bot.conversation import Answer, Done, Outcome, Retry
from bot.flows import MENU
from bot.flows.events import RSVP_SAID, rsvp_said
from core.i18n import _
from core.services import invitations
from core.services.attendance import Rsvp
from core.validation import parse_choice_number

_COMING = frozenset(words.fold(w) for w in words.COMING)
_NOT_COMING = frozenset(words.fold(w) for w in words.NOT_COMING)


def yes_or_no(text: str) -> tuple[bool, bool] | None:
    """(coming, typed as a number) when ``text`` answers an invitation: 1 or 2 (ASCII or
    Tamil digits), or a yes or no word in the forms people type; else None."""
    number = parse_choice_number(text)
    if number is not None:
        return (number == 1, True) if number in (1, 2) else None
    folded = words.fold(text.replace("’", "'"))
    if folded in _COMING:
        return True, False
    if folded in _NOT_COMING:
        return False, False
    return None


async def tapped(ctx: Context, answer: Answer) -> Outcome | None:
    """A press on an invitation's button, answered; None for any other button."""
    tap = invitations.parse_tap(answer.choice_id)
    if tap is None or ctx.member is None:
        return None
    event_id = tap.event_id or await invitations.replied_to(
        ctx.session, ctx.member_id, ctx.message.provider, ctx.message.replied_to
    )
    if event_id is None:  # the message it was on is not known: the latest invitation
        found = await invitations.latest(
            ctx.pg,
            ctx.member_id,
            now=ctx.now,
            offer_minutes=ctx.settings.event_offer_confirm_minutes,
            answered=True,
        )
        event_id = found.event_id if found else None
    if event_id is None:
        said = _(RSVP_SAID[Rsvp.NOT_FOUND])
    else:
        said = rsvp_said(
            await invitations.answer(
                ctx.session,
                event_id,
                ctx.member_id,
                coming=tap.coming,
                now=ctx.now,
                settings=ctx.settings,
            )
        )
    if ctx.conv.flow not in (None, MENU):  # a question was pending: asked again after
        return Retry(said)
    return Done(said, menu=False)


async def typed(ctx: Context, answer: Answer, *, at_menu: bool) -> Outcome | None:
    """A yes or no typed with no question pending, as the answer to the member's latest
    invitation they have not answered; None when it is not one (the message goes on
    as before)."""
    meant = yes_or_no(answer.text)
    if meant is None or ctx.member is None:
        return None
    coming, as_number = meant
    found = await invitations.latest(
        ctx.pg, ctx.member_id, now=ctx.now, offer_minutes=ctx.settings.event_offer_confirm_minutes
    )
    if found is None:
        return None
    if at_menu and as_number:
        menu_shown = ctx.conv_saved_at
        if found.sent_at is None or menu_shown is None or found.sent_at <= menu_shown:
            return None  # the menu came after the invitation: its number is the menu's
    said = await invitations.answer(
        ctx.session, found.event_id, ctx.member_id, coming=coming, now=ctx.now,
        settings=ctx.settings,
    )  # fmt: skip
    return Done(rsvp_said(said), menu=False)
