"""Tamil and English: gettext catalogs (Babel), dates in Asia/Kolkata, Indian money.

Flows wrap whole sentences in ``_()``; the engine renders every reply inside the
member's locale with :func:`use_language`. Catalogs live in ``locales/<lang>/LC_MESSAGES``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
INDIA = ZoneInfo("Asia/Kolkata")


class Language(enum.StrEnum):
    TAMIL = "ta"
    ENGLISH = "en"


DEFAULT_LANGUAGE = Language.TAMIL
_BABEL_LOCALE = {Language.TAMIL: "ta_IN", Language.ENGLISH: "en_IN"}

_current: ContextVar[Language] = ContextVar("language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: Language) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [language.value], DOMAIN)


def current_language() -> Language:
    return _current.get()


@contextmanager
def use_language(language: Language | str | None) -> Iterator[Language]:
    lang = Language(language) if language else DEFAULT_LANGUAGE
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """Translate a whole sentence into the current language."""
    return translations(_current.get()).gettext(message)


def N_(message: str) -> str:
    """Mark a sentence for extraction; translate later with ``_()``."""
    return message


def in_language(language: Language | str, message: str) -> str:
    with use_language(language):
        return _(message)


def bilingual(message: str) -> str:
    """``message`` in Tamil, then in English, one per line: for a reply to someone whose
    language is not known (or not looked up)."""
    return "\n".join(in_language(language, message) for language in Language)


def format_day(value: date, language: Language | None = None) -> str:
    """26 நவம்பர், 2026 / 26 November 2026."""
    lang = language or current_language()
    return _babel_date(value, format="long", locale=_BABEL_LOCALE[lang])


def format_moment(value: datetime, language: Language | None = None) -> str:
    """A moment shown in Indian time, with the month in the member's language:
    26 நவம்பர் 2026, மாலை 6:35 / 26 November 2026, 6:35 PM."""
    lang = language or current_language()
    if lang is not Language.TAMIL:
        return _babel_datetime(
            value, format="d MMMM y, h:mm a", tzinfo=INDIA, locale=_BABEL_LOCALE[lang]
        )
    local = value.astimezone(INDIA)
    day = _babel_date(local.date(), format="d MMMM y", locale=_BABEL_LOCALE[lang])
    return f"{day}, {tamil_day_part(local.hour)} {local.hour % 12 or 12}:{local.minute:02d}"


def tamil_day_part(hour: int) -> str:
    """காலை / மதியம் / மாலை / இரவு, as people say the time. Not Babel's (CLDR's) periods,
    which call 8 pm அந்தி மாலை, a literary word nobody uses for a meeting time."""
    if 4 <= hour < 12:
        return "காலை"
    if 12 <= hour < 16:
        return "மதியம்"
    if 16 <= hour < 19:
        return "மாலை"
    return "இரவு"


def local_name(name: str, name_ta: str | None, language: Language | str | None = None) -> str:
    """A name kept in English with its Tamil form beside it (a unit's ``name_ta``), in
    ``language``; the English one when there is no Tamil form."""
    lang = Language(language) if language else current_language()
    return (name_ta or name) if lang is Language.TAMIL else name


def format_money(amount: Decimal | int | float, language: Language | None = None) -> str:
    """₹1,00,000.00 — Indian grouping."""
    lang = language or current_language()
    return format_currency(amount, "INR", locale=_BABEL_LOCALE[lang])


def format_number(value: int, language: Language | None = None) -> str:
    lang = language or current_language()
    return format_decimal(value, locale=_BABEL_LOCALE[lang])
