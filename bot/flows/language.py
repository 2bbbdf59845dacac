"""Change language at any time (LANGUAGE / மொழி).
The graph: docs/flows/language.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, Ask, Done, Flow, Outcome
from bot.flows.welcome import GREETING_SMS, LANGUAGE_HINT, LANGUAGE_WORDS, LANGUAGES
from core.i18n import Language, _, use_language
from core.services import addresses


async def switch(ctx: Context, picked: str) -> str:
    """Speak ``picked`` from now on, and say so in it. It is kept for the address only
    once consent is given ("English" typed at the privacy notice): before that nothing
    about the person is stored."""
    ctx.language = Language(picked)
    ctx.conv.language = picked
    consented = ctx.address is not None and ctx.address.consent_given_at is not None
    if ctx.member is not None or consented:
        # The member's language follows the address they write from.
        ctx.address = await addresses.set_language(
            ctx.session, ctx.message.channel, ctx.message.address, picked, now=ctx.now
        )
    with use_language(ctx.language):
        # TRANSLATORS: said in the language just chosen, so each language names itself:
        # the Tamil says "in Tamil".
        return _("Done. I will write to you in English from now on.")


async def chosen(ctx: Context, picked: str) -> Outcome:
    return Done(await switch(ctx, picked))


FLOW = Flow(
    name="language",
    entry="choose",
    states={
        "choose": Ask(
            "மொழியைத் தேர்ந்தெடுங்கள் / Choose your language:",
            sms=GREETING_SMS,
            choices=LANGUAGES,
            words=LANGUAGE_WORDS,
            hint=LANGUAGE_HINT,
            then=chosen,
            goes_to=(END,),
        )
    },
)
