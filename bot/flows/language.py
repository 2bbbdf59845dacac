"""Change language at any time (LANGUAGE / மொழி).
The graph: docs/flows/language.md (generated from :data:`FLOW`)."""

from __future__ import annotations

from bot.context import Context
from bot.conversation import END, Ask, Done, Flow, Outcome
from bot.flows.welcome import LANGUAGE_HINT, LANGUAGE_WORDS, LANGUAGES
from core.i18n import Language, _, use_language
from core.services import addresses


async def chosen(ctx: Context, picked: str) -> Outcome:
    ctx.language = Language(picked)
    ctx.conv.language = picked
    # The member's language follows the address they write from.
    ctx.address = await addresses.set_language(
        ctx.session, ctx.message.channel, ctx.message.address, picked, now=ctx.now
    )
    with use_language(ctx.language):
        # TRANSLATORS: said in the language just chosen, so each language names itself:
        # the Tamil says "in Tamil".
        return Done(_("Done. I will write to you in English from now on."))


FLOW = Flow(
    name="language",
    entry="choose",
    states={
        "choose": Ask(
            "மொழியைத் தேர்ந்தெடுங்கள் / Choose your language:",
            choices=LANGUAGES,
            words=LANGUAGE_WORDS,
            hint=LANGUAGE_HINT,
            then=chosen,
            goes_to=(END,),
        )
    },
)
