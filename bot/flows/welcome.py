"""First contact: greeting, language, and DPDP consent before anything is stored.

```mermaid
stateDiagram-v2
    [*] --> language
    language --> consent: தமிழ் / English
    consent --> menu: I agree (address stored with consent)
    consent --> [*]: No (only the refusal is stored)
```
"""

from __future__ import annotations

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Goto, Outcome, Question, Retry
from core.channels.base import Choice, Reply
from core.i18n import Language, _
from core.services import addresses

# Shown before a language is chosen, so it is in both languages at once.
GREETING = (
    "வணக்கம்! விடுதலைச் சிறுத்தைகள் கட்சியின் VCK Connect உங்களை வரவேற்கிறது.\n"
    "Welcome to VCK Connect, the Viduthalai Chiruthaigal Katchi helpline.\n\n"
    "மொழியைத் தேர்ந்தெடுங்கள் / Choose your language:"
)
LANGUAGES = (Choice(Language.TAMIL.value, "தமிழ்"), Choice(Language.ENGLISH.value, "English"))
LANGUAGE_WORDS = {
    "ta": ("tamil", "ta", "tamizh", "thamizh"),
    "en": ("english", "en", "ஆங்கிலம்", "eng"),
}


async def ask_language(ctx: Context) -> Reply:
    return Reply(GREETING, LANGUAGES)


async def answer_language(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(LANGUAGES, LANGUAGE_WORDS)
    if picked is None:
        return Retry("1 = தமிழ், 2 = English")
    ctx.conv.language = picked
    ctx.language = Language(picked)
    return Goto("consent")


def consent_choices() -> tuple[Choice, ...]:
    return (Choice("agree", _("I agree")), Choice("decline", _("No, thank you")))


CONSENT_WORDS = {
    "agree": ("yes", "agree", "ok", "ஆம்", "சரி", "ஒப்புக்கொள்கிறேன்"),
    "decline": ("no", "decline", "இல்லை", "வேண்டாம்"),
}


async def ask_consent(ctx: Context) -> Reply:
    return Reply(
        _(
            "Privacy notice: to serve you, VCK Connect keeps your phone number and the "
            "details you choose to give us, such as your name, date of birth and area. "
            "They are used only for party membership work. We never sell them. "
            "You can ask us to delete them at any time.\n\nDo you agree?"
        ),
        consent_choices(),
    )


async def answer_consent(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(consent_choices(), CONSENT_WORDS)
    if picked is None:
        return Retry(_("Please reply 1 if you agree, or 2 if you do not."))
    channel, address = ctx.message.channel.value, ctx.message.address
    if picked == "decline":
        await addresses.refuse_consent(ctx.session, channel, address, now=ctx.now)
        return Done(
            _(
                "Understood. We have not kept any of your details. "
                "If you change your mind, just send us a message."
            ),
            menu=False,
        )
    await addresses.give_consent(ctx.session, channel, address, now=ctx.now)
    ctx.address = await addresses.set_language(
        ctx.session, channel, address, ctx.language, now=ctx.now
    )
    return Done(_("Thank you. How can we help you today?"))


FLOW = Flow(
    name="welcome",
    entry="language",
    states={
        "language": Question(ask_language, answer_language),
        "consent": Question(ask_consent, answer_consent),
    },
)
