"""Sending one-time codes by SMS, in the member's language."""

from __future__ import annotations

from bot.context import Context
from core import effects
from core.services.otp import OtpRequest


async def queue_code_sms(ctx: Context, phone: str, request: OtpRequest) -> None:
    """Send ``request``'s code by SMS once the transaction has committed: the outbox keeps
    the OTP row's id and nonce, never the code (core/effects.py renders the text)."""
    await ctx.effect(effects.Kind.CODE_SMS, effects.code_sms(request, phone, ctx.language))
