"""Step-up check: a fresh SMS code before a sensitive action (announcing now; voting and
changing the phone later). Any flow calls :func:`require` with where to go on success.

```mermaid
stateDiagram-v2
    [*] --> code: code sent by SMS (skipped when one was confirmed minutes ago)
    code --> caller: right code → back to the calling flow's state
    code --> code: wrong code (tries left)
    code --> [*]: expired / too many tries
```
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Goto, Outcome, Question
from bot.flows import otp_text
from bot.flows.link import code_problem
from core.channels.base import Reply
from core.i18n import _
from core.phones import mask_phone
from core.services import otp

FRESH_FOR = timedelta(minutes=10)


async def require(ctx: Context, then_flow: str, then_state: str) -> Outcome:
    phone = ctx.phone
    assert phone is not None
    if await otp.step_up_valid(ctx.session, phone, within=FRESH_FOR, now=ctx.now):
        return Goto(then_state, flow=then_flow)
    request = await otp_text.request_code(ctx, phone, otp.OtpPurpose.STEP_UP)
    if request.code is None:
        return Done(otp_text.refusal(request))
    ctx.data["after_step_up"] = [then_flow, then_state]
    await otp_text.queue_code_sms(ctx, phone, request)
    return Goto(
        "code",
        flow="stepup",
        say=_("For your safety, we have sent a 6-digit code by SMS to {phone}.").format(
            phone=mask_phone(phone)
        ),
    )


async def ask_code(ctx: Context) -> Reply:
    return Reply(_("Please type the 6-digit code from the SMS."))


async def answer_code(ctx: Context, answer: Answer) -> Outcome:
    assert ctx.phone is not None
    check = await otp.check_code(
        ctx.session, ctx.settings, ctx.phone, "step_up", answer.text, now=ctx.now
    )
    if not check.ok:
        return code_problem(check)
    flow, state = ctx.data.pop("after_step_up")
    return Goto(state, flow=flow)


FLOW = Flow(name="stepup", entry="code", states={"code": Question(ask_code, answer_code)})
