"""Pieces every flow shares: help, and shorter sentences for SMS."""

from __future__ import annotations

from bot.context import Context
from core.channels.base import Channel
from core.i18n import N_, _


def on_sms(ctx: Context, chat: str, sms: str) -> str:
    """``sms`` on SMS, where a shorter sentence costs fewer parts; ``chat`` elsewhere."""
    return sms if ctx.message.channel is Channel.SMS else chat


# TRANSLATORS: keywords (table: engine.GLOBAL_WORDS) in quotes, as typed; the
# English ones too. By SMS: the keywords alone, two parts at most.
HELP_SMS = N_("Send a number to choose. Any time: MENU or 0, CANCEL, LANGUAGE, STOP, START.")
"""HELP by SMS through the DLT provider (asked at any question: it goes before it)."""


def help_text(ctx: Context) -> str:
    if ctx.message.channel is Channel.SMS and ctx.message.provider == "twilio":
        # Twilio itself opts out anyone who texts CANCEL: not a word to offer here.
        # TRANSLATORS: keywords (table: engine.GLOBAL_WORDS) in quotes, as typed; the
        # English ones too. By SMS: the keywords alone, two parts at most.
        return _("Send a number to choose. Any time: MENU or 0, LANGUAGE, STOP, START.")
    if ctx.message.channel is Channel.SMS:
        return _(HELP_SMS)
    # TRANSLATORS: keywords (table: engine.GLOBAL_WORDS) in quotes, as typed; Tamil lists the
    # English ones too (phones without a Tamil keyboard).
    return _(
        "Reply with the number of your choice. "
        "You can send these words at any time: MENU or 0 for the main menu, "
        "CANCEL to stop what you are doing, LANGUAGE to change the language, "
        "STOP to get no more announcements, START to get them again."
    )
