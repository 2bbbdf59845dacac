"""Telegram: prove a phone number (share contact or type it, then an SMS code) and link
this chat to it — and to the membership of that phone, if there is one. Called from the
menu's "Join the party" (:data:`bot.flows.menu.JOIN_AFTER_LINK`), it returns to the
signup once the number is confirmed. The graph: docs/flows/link.md (generated from
:data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, RETURN, Answer, Ask, Done, Flow, Goto, Outcome, Retry, Return
from bot.flows import otp_text
from core.i18n import N_, _
from core.phones import mask_phone, normalise_phone
from core.services import addresses, members, otp


async def answer_contact(ctx: Context, answer: Answer) -> Outcome:
    if answer.contact_phone is not None and not answer.contact_is_own:
        return Retry(_("Please share your own contact, not someone else's."))
    phone = normalise_phone(answer.contact_phone or answer.text)
    if phone is None:
        return Retry(_("Please type a 10-digit mobile number, for example 98765 43210."))
    request = await otp_text.request_code(ctx, phone, otp.OtpPurpose.LINK_TELEGRAM)
    if request.refusal is otp.OtpRefusal.COUNTRY:
        return Retry(otp_text.refusal(request))
    if request.code is None:
        return Done(otp_text.refusal(request))
    ctx.data["phone"] = phone
    await otp_text.queue_code_sms(ctx, phone, request)
    return Goto(
        "code",
        say=_("We have sent a 6-digit code by SMS to {phone}.").format(phone=mask_phone(phone)),
    )


async def answer_code(ctx: Context, answer: Answer) -> Outcome:
    phone = ctx.data["phone"]
    check = await otp.check_code(
        ctx.session, ctx.settings, phone, "link_telegram", answer.text, now=ctx.now
    )
    if not check.ok:
        return code_problem(check)
    member = await members.find_by_phone(ctx.session, phone)
    ctx.address = await addresses.link_phone(
        ctx.session,
        ctx.message.channel,
        ctx.message.address,
        phone=phone,
        member_id=member.id if member else None,
        now=ctx.now,
    )
    ctx.member = member
    if member is None and ctx.conv.calls:  # came here to join
        return Return(_("Thank you, your number is confirmed."))
    return Done(
        _("Your phone number {phone} is now linked to this chat.").format(phone=mask_phone(phone))
    )


def code_problem(check: otp.OtpCheck) -> Outcome:
    """The answer to a code that did not work: a retry while tries are left."""
    if check.status is otp.OtpStatus.WRONG:
        return Retry(
            _("That code is not right. You can try {count} more times.").format(
                count=check.attempts_left
            )
        )
    if check.status is otp.OtpStatus.TOO_MANY_ATTEMPTS:
        return Done(_("Too many wrong tries. Please ask for a new code from the menu."))
    if check.status is otp.OtpStatus.LOCKED:
        return Done(
            _("Too many wrong codes were typed for this number today. Please try again tomorrow.")
        )
    return Done(_("That code has expired. Please ask for a new code from the menu."))


FLOW = Flow(
    name="link",
    entry="contact",
    states={
        "contact": Ask(
            N_(
                "To link your phone number, tap the button below to share your contact, "
                "or type your mobile number."
            ),
            answer=answer_contact,
            ask_contact=True,
            button=N_("Share my phone number"),
            goes_to=("code", END),
        ),
        "code": Ask(
            N_("Please type the 6-digit code from the SMS."),
            answer=answer_code,
            goes_to=(RETURN, END),
        ),
    },
)
