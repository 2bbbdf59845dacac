"""Step-up check: a fresh SMS code before a sensitive action (announcing now; voting and
changing the phone later). A flow returns :func:`require`'s outcome, declaring
``Call("stepup", then=…)`` among its targets; the right code returns there.
The graph: docs/flows/stepup.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.conversation import (
    END,
    MEMBER,
    RETURN,
    Answer,
    Ask,
    Call,
    Done,
    Flow,
    Goto,
    Outcome,
    Return,
)
from bot.flows import otp_text
from bot.flows.link import code_problem
from core.i18n import N_, _
from core.phones import mask_phone
from core.services import otp

FRESH_FOR = timedelta(minutes=10)


async def require(ctx: Context, then_flow: str, then_state: str) -> Outcome:
    """Go to ``then_state`` of ``then_flow`` at once when a code was confirmed minutes
    ago; else send a code and ask for it first."""
    phone = ctx.phone
    assert phone is not None  # members only: a member has a phone
    if await otp.step_up_valid(ctx.session, phone, within=FRESH_FOR, now=ctx.now):
        return Goto(then_state, flow=then_flow)
    request = await otp_text.request_code(ctx, phone, otp.OtpPurpose.STEP_UP)
    if request.code is None:
        return Done(otp_text.refusal(request))
    await otp_text.queue_code_sms(ctx, phone, request)
    return Call(
        "stepup",
        then=(then_flow, then_state),
        say=_("For your safety, we have sent a 6-digit code by SMS to {phone}.").format(
            phone=mask_phone(phone)
        ),
    )


async def answer_code(ctx: Context, answer: Answer) -> Outcome:
    assert ctx.phone is not None
    check = await otp.check_code(
        ctx.session, ctx.settings, ctx.phone, "step_up", answer.text, now=ctx.now
    )
    return Return() if check.ok else code_problem(check)


FLOW = Flow(
    name="stepup",
    entry="code",
    requires=MEMBER,
    states={
        "code": Ask(
            N_("Please type the 6-digit code from the SMS."),
            answer=answer_code,
            goes_to=(RETURN, END),
        )
    },
)
