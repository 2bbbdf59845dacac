"""Change language at any time (LANGUAGE / மொழி).

```mermaid
stateDiagram-v2
    [*] --> choose
    choose --> menu: தமிழ் / English (stored on the member, else on the address)
```
"""

from __future__ import annotations

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Outcome, Question, Retry
from bot.flows.welcome import LANGUAGE_WORDS, LANGUAGES
from core.channels.base import Reply
from core.i18n import Language, _, use_language
from core.services import addresses


async def ask_choose(ctx: Context) -> Reply:
    return Reply("மொழியைத் தேர்ந்தெடுங்கள் / Choose your language:", LANGUAGES)


async def answer_choose(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(LANGUAGES, LANGUAGE_WORDS)
    if picked is None:
        return Retry("1 = தமிழ், 2 = English")
    ctx.language = Language(picked)
    ctx.conv.language = picked
    # The member's language follows the address they write from.
    ctx.address = await addresses.set_language(
        ctx.session, ctx.message.channel, ctx.message.address, picked, now=ctx.now
    )
    with use_language(ctx.language):
        return Done(_("Done. I will write to you in English from now on."))


FLOW = Flow(name="language", entry="choose", states={"choose": Question(ask_choose, answer_choose)})
