"""Sending one-time codes by SMS, in the member's language, and saying why one was not."""

from __future__ import annotations

from bot.context import Context
from core import effects
from core.i18n import _, format_moment
from core.services import otp
from core.services.otp import OtpRefusal, OtpRequest


async def queue_code_sms(ctx: Context, phone: str, request: OtpRequest) -> None:
    """Send ``request``'s code by SMS once the transaction has committed: the outbox keeps
    the OTP row's id and nonce, never the code (core/effects.py renders the text)."""
    await ctx.effect(effects.Kind.CODE_SMS, effects.code_sms(request, phone, ctx.language))


async def request_code(ctx: Context, phone: str, purpose: otp.OtpPurpose) -> OtpRequest:
    """A code for ``phone``, asked for by this chat or number (limited per requester)."""
    requester = otp.requester_key(ctx.settings, ctx.message.channel.value, ctx.message.address)
    return await otp.request_code(
        ctx.session, ctx.settings, phone, purpose, now=ctx.now, requester=requester
    )


def refusal(request: OtpRequest) -> str:
    """Why no code was sent, and when to try again."""
    when = format_moment(request.retry_at) if request.retry_at else "-"
    if request.refusal is OtpRefusal.COUNTRY:
        return _("We can send codes only to mobile numbers in India.")
    if request.refusal is OtpRefusal.REQUESTER_LIMITED:
        return _("You have asked for too many codes. Please try again after {time}.").format(
            time=when
        )
    if request.refusal is OtpRefusal.LOCKED:
        return _(
            "Too many wrong codes were typed for this number. Please try again after {time}."
        ).format(time=when)
    if request.refusal is OtpRefusal.CEILING:
        return _("We cannot send codes just now. Please try again later.")
    return _(
        "Too many codes have been asked for this number. Please try again after {time}."
    ).format(time=when)
