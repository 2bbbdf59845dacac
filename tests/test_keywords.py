"""The words members type (bot/words.py): the spoken, polite and romanised forms are
accepted where their meaning applies, and every keyword a catalog sentence tells people
to type is accepted by the table its translator comment names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import pytest
from babel.messages.pofile import read_po

from bot.conversation import Answer, Word
from bot.engine import global_word
from bot.flows import announce, events, menu, privacy, signup, verify, welcome
from bot.words import PRIVACY, fold, is_skip, language_named
from core.channels.base import Choice
from core.i18n import LOCALES_DIR, Language, _, use_language

TABLE = re.compile(r"table: ([\w.]+)")
QUOTED = re.compile(r"'([^']+)'")
UPPER = re.compile(r"\b[A-Z]{2,}\b")
NOT_KEYWORDS = {"SMS", "OTP", "VCK", "PIN", "ID"}


def picks(
    choices: tuple[Choice, ...], words: Mapping[str, tuple[str, ...]], text: str
) -> str | None:
    return Answer(text).pick(choices, words)


def menu_item(text: str) -> bool:
    items = tuple(Choice(item, _(label)) for item, label in menu.LABELS.items())
    return picks(items, menu.WORDS, text) is not None


TABLES: dict[str, Callable[[str], bool]] = {
    "engine.GLOBAL_WORDS": lambda text: global_word(text) is not None,
    "words.SKIP": is_skip,
    "menu.WORDS": menu_item,
    "words.PRIVACY": lambda text: fold(text) in PRIVACY,
}


@pytest.mark.parametrize("lang", ["ta", "en"])
def test_every_keyword_a_sentence_quotes_is_accepted_by_its_table(lang: str) -> None:
    with open(LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh)
    checked = 0
    for message in catalog:
        named = TABLE.search(" ".join(message.auto_comments))
        if not message.id or named is None:
            continue
        accepts = TABLES[named.group(1)]
        # The English sentence is read by someone writing in English, the translation by
        # someone writing in its language (a quoted menu item is the label they see).
        for text, language in ((message.id, "en"), (message.string, lang)):
            keywords = QUOTED.findall(text) + [
                w for w in UPPER.findall(text) if w not in NOT_KEYWORDS
            ]
            assert keywords, f"{lang}: no keyword in {text!r}"
            with use_language(Language(language)):
                for keyword in keywords:
                    assert accepts(keyword), f"{lang}: {keyword!r} ({named.group(1)}) in {text!r}"
                    checked += 1
    assert checked >= 20


def test_a_table_the_catalog_names_that_does_not_accept_a_word_fails() -> None:
    # The check above can fail: a word no table knows is refused.
    assert not any(accepts("தவிர்க்கவும்") for accepts in TABLES.values())


@pytest.mark.parametrize(
    ("typed", "word"),
    [
        ("udhavi", Word.HELP),
        ("உதவுங்கள்", Word.HELP),
        ("மெயின் மெனு", Word.MENU),
        ("நிறுத்துங்கள்", Word.STOP),
        ("niruthu", Word.STOP),
        ("'தொடங்கு'", Word.START),
        ("thodangu", Word.START),
        ("mozhi", Word.LANGUAGE),
        ("rathu", Word.CANCEL),
        ("ரத்து செய்யுங்கள்", Word.CANCEL),
        ("/start", Word.START),
        ("“மெனு”", Word.MENU),
    ],
)
def test_global_words_in_the_forms_people_type(typed: str, word: Word) -> None:
    assert global_word(typed) is word


@pytest.mark.parametrize("typed", ["இல்ல", "வேணாம்", "'இல்லை'", "illa", "venam", "கிடையாது", "-"])
def test_skip_in_the_forms_people_type(typed: str) -> None:
    assert is_skip(typed)


@pytest.mark.parametrize(
    ("choices", "words", "typed", "meant"),
    [
        (welcome.CONSENT, welcome.CONSENT_WORDS, "ஆமா", "agree"),
        (welcome.CONSENT, welcome.CONSENT_WORDS, "aamaa?", "agree"),
        (welcome.CONSENT, welcome.CONSENT_WORDS, "சரிங்க", "agree"),
        (welcome.CONSENT, welcome.CONSENT_WORDS, "வேணாம்", "decline"),
        (welcome.CONSENT, welcome.CONSENT_WORDS, "illa", "decline"),
        (privacy.CONFIRM, privacy.CONFIRM_WORDS, "ஆமாம்", "delete"),
        (privacy.CONFIRM, privacy.CONFIRM_WORDS, "venam", "keep"),
        (signup.CONFIRM, signup.CONFIRM_WORDS, "ok", "confirm"),
        (signup.CONFIRM, signup.CONFIRM_WORDS, "மறுபடியும்", "restart"),
        (signup.CONFIRM, signup.CONFIRM_WORDS, "rathu", "cancel"),
        (signup.GENDERS, signup.GENDER_WORDS, "திருநங்கை", "transgender"),
        (signup.GENDERS, signup.GENDER_WORDS, "இல்ல", "unspecified"),
        (signup.PLACES, signup.PLACE_WORDS, "பின்கோடு", "pincode"),
        (announce.WHEN, announce.WHEN_WORDS, "உடனே", "now"),
        (announce.CONFIRM, announce.SEND_WORDS, "aama", "send"),
        (verify.CONFIRM, verify.CONFIRM_WORDS, "பின்செல்", "back"),
        ((events.YES, events.NO), events.EVENT_WORDS, "வரேன்", "yes"),
        ((events.YES, events.NO), events.EVENT_WORDS, "வர முடியாது", "no"),
    ],
)
def test_answers_in_the_forms_people_type(choices, words, typed: str, meant: str) -> None:
    assert picks(choices, words, typed) == meant


def test_i_will_come_does_not_confirm_cancelling_an_event() -> None:
    # The event screen takes the invitation's words; "Cancel the event?" does not.
    assert picks(events.CONFIRM_CANCEL, events.RSVP_WORDS, "வருவேன்") is None


def test_all_right_is_not_enough_to_delete_details() -> None:
    # சரி ("all right") answers a question that can be undone, not "delete everything?".
    assert picks(privacy.CONFIRM, privacy.CONFIRM_WORDS, "சரி") is None


@pytest.mark.parametrize(
    ("typed", "language"),
    [("English", "en"), ("இங்கிலீஷ்", "en"), ("தமிழ்", "ta"), ("thamizh", "ta"), ("hello", None)],
)
def test_language_names(typed: str, language: str | None) -> None:
    assert language_named(typed) == language
