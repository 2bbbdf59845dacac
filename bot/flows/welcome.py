"""First contact: greeting, language, and DPDP consent before anything is stored.
The graph: docs/flows/welcome.md (generated from :data:`FLOW`).

Until consent is given this is the only flow: the engine brings anyone without consent
here (:func:`start`), and MENU, CANCEL and LANGUAGE start it again rather than leave it.
"""

from __future__ import annotations

from bot import words
from bot.context import Context
from bot.conversation import END, Answer, Ask, Done, Flow, Goto, Outcome, Retry, Word
from bot.flows.common import on_sms
from core import dlt_templates
from core.channels.base import Choice
from core.i18n import N_, Language, _
from core.services import addresses

# Shown before a language is chosen, so it is in both languages at once.
GREETING = (
    "வணக்கம்! விடுதலைச் சிறுத்தைகள் கட்சியின் VCK Connect உங்களை வரவேற்கிறது.\n"
    "Welcome to VCK Connect, the Viduthalai Chiruthaigal Katchi helpline.\n\n"
    "மொழியைத் தேர்ந்தெடுங்கள் / Choose your language:"
)
GREETING_SMS = dlt_templates.BILINGUAL["choose-language"]
"""The greeting by SMS: the bilingual welcome above costs four parts."""
LANGUAGES = (Choice(Language.TAMIL.value, "தமிழ்"), Choice(Language.ENGLISH.value, "English"))
LANGUAGE_WORDS = {
    "ta": ("ta", *words.LANGUAGE_NAMES["ta"]),
    "en": ("en", *words.LANGUAGE_NAMES["en"]),
}
LANGUAGE_HINT = dlt_templates.BILINGUAL["language-hint"]
CONSENT = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("agree", N_("I agree")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("decline", N_("No, thank you")),
)
CONSENT_WORDS = {
    "agree": (*words.YES, *words.FINE, "agree", "ஒப்புக்கொள்கிறேன்"),
    "decline": (*words.NO, "decline"),
}


# TRANSLATORS: the full privacy notice, a legal text:
# say what the English says, no more and no less.
# 'Delete my details' is the menu item's own label.
NOTICE = N_(
    "Privacy notice: to serve you, VCK Connect keeps your phone number and the "
    "details you choose to give us, such as your name, date of birth and area. "
    "They are used only for party membership work, and we never sell them. "
    "Giving them is voluntary. You can withdraw your consent and have them deleted "
    "at any time: choose 'Delete my details' in the menu, or send DELETE. "
    "For a grievance, contact our grievance officer: {contact}. "
    "You may also complain to the Data Protection Board of India."
)
"""Everything the DPDP Act asks a notice to say (s. 5, 6): what is kept and why, that
giving it is voluntary, how to withdraw (the menu choice and its keyword, as easy as
agreeing), whom to contact with a grievance, and the right to complain to the Board."""
# TRANSLATORS: the privacy notice by SMS: three parts at most, with the two choices.
# Keywords (words.PRIVACY, menu.WORDS "privacy") in quotes, as typed.
NOTICE_SMS = N_(
    "Privacy: giving your details is your choice; they are used only for party work "
    "and never sold. To withdraw, send DELETE. For complaints and your rights, send "
    "PRIVACY. Do you agree?"
)
"""The notice by SMS: the same promises in three parts with the two choices; the rest
(the grievance contact, the Board) is one keyword away, as DPDP allows an itemised
notice to point to its full text."""


def notice(ctx: Context) -> str:
    return _(NOTICE).format(contact=ctx.settings.grievance_officer_contact)


async def notice_prompt(ctx: Context) -> str:
    # Two sentences, not one: by SMS the notice alone answers PRIVACY, and each has its
    # DLT template.
    question = _("Do you agree?")
    return f"{notice(ctx)}\n\n{question}"


async def full_notice(ctx: Context, answer: Answer) -> Outcome | None:
    """PRIVACY (தனியுரிமை) at the short SMS notice: the whole notice, then the question."""
    if words.fold(answer.text) in words.PRIVACY:
        return Retry(notice(ctx))
    return None


def start(ctx: Context) -> Goto:
    """The first question still open: the language, unless already chosen."""
    return Goto("language" if ctx.conv.language is None else "consent", flow="welcome")


async def chosen(ctx: Context, picked: str) -> Outcome:
    ctx.conv.language = picked
    ctx.language = Language(picked)
    return Goto("consent")


async def consented(ctx: Context, picked: str) -> Outcome:
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
    # By SMS the menu alone: the greeting would make it two parts.
    return Done(on_sms(ctx, _("Thank you. How can we help you today?"), ""))


FLOW = Flow(
    name="welcome",
    entry="language",
    states={
        "language": Ask(
            GREETING,
            sms=GREETING_SMS,
            choices=LANGUAGES,
            words=LANGUAGE_WORDS,
            hint=LANGUAGE_HINT,
            then=chosen,
            goes_to=("consent",),
        ),
        "consent": Ask(
            notice_prompt,
            sms=NOTICE_SMS,
            answer=full_notice,
            choices=CONSENT,
            words=CONSENT_WORDS,
            hint=N_("Please reply 1 if you agree, or 2 if you do not."),
            then=consented,
            goes_to=(END,),
        ),
    },
    fallbacks={
        Word.MENU: start,
        Word.CANCEL: start,
        Word.LANGUAGE: lambda ctx: Goto("language"),
    },
)
