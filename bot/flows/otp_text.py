"""Sending one-time codes by SMS, in the member's language."""

from __future__ import annotations

from bot.context import Context
from core.i18n import _


def queue_code_sms(ctx: Context, phone: str, code: str) -> None:
    """Send ``code`` by SMS once the transaction has committed."""
    text = _(
        "{code} is your VCK Connect code. It is valid for {minutes} minutes. "
        "Do not share it with anyone."
    ).format(code=code, minutes=ctx.settings.otp_ttl_minutes)
    template = f"otp_{ctx.language.value}"
    ctx.later(lambda: ctx.outbox.send_sms(phone, text, template=template))
