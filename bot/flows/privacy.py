"""Withdraw consent and delete my details (DPDP): from the main menu, one confirmation.
The graph: docs/flows/privacy.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot import words
from bot.context import Context
from bot.conversation import END, Ask, Done, Flow, Outcome
from core.channels.base import Choice
from core.i18n import N_, _
from core.services import members, privacy

CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("delete", N_("Yes, delete them")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("keep", N_("No, keep them")),
)

CONFIRM_WORDS = {
    "delete": (*words.YES, "delete", "நீக்கு", "நீக்குங்கள்", "neekku"),
    "keep": (*words.NO, "keep", "வைத்திருங்கள்", "நீக்க வேண்டாம்"),
}


async def consequences(ctx: Context) -> str:
    if ctx.member is None:
        warning = _(
            "If you withdraw your consent, we delete your details and will not send you "
            "any more messages."
        )
    else:
        summary = await members.membership_summary(ctx.session, ctx.member.id)
        warning = _(
            "If you withdraw your consent, your membership {number} ends. We delete your "
            "name, date of birth, area and every other detail, and we will not send you "
            "any more messages. This cannot be undone."
        ).format(number=summary.membership_number if summary else "-")
        if await ctx.permissions():
            warning += "\n" + _("Your party position ends too.")
    return warning + "\n\n" + _("Shall we delete your details?")


async def confirmed(ctx: Context, picked: str) -> Outcome:
    if picked == "keep":
        return Done(_("Nothing has changed. Your details are kept."))
    secret = ctx.settings.secret_key.get_secret_value()
    channel, address = ctx.message.channel, ctx.message.address
    await privacy.withdraw_consent(
        ctx.session,
        channel,
        address,
        member_id=ctx.member.id if ctx.member else None,
        secret=secret,
        now=ctx.now,
    )
    ctx.member, ctx.address, ctx.permissions_known = None, None, None
    ctx.log_as = privacy.erased_address(secret, channel.value, address)
    return Done(
        _(
            "Done. Your consent is withdrawn and your details are deleted. "
            "We will not message you again. If you ever want to come back, just send us "
            "a message."
        ),
        menu=False,
    )


FLOW = Flow(
    name="privacy",
    entry="confirm",
    states={
        "confirm": Ask(
            consequences,
            choices=CONFIRM,
            words=CONFIRM_WORDS,
            hint=N_("Please reply 1 to delete your details, or 2 to keep them."),
            then=confirmed,
            goes_to=(END,),
        )
    },
)
