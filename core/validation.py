"""What members type, checked and normalised. Pure functions, no I/O, never raising.

One style throughout: each ``parse_*`` returns the clean value, or ``None`` when the text
is not one — except :func:`parse_birth_date`, whose refusals need different answers
(under 18 ends the signup; a typo is re-asked), which returns a :class:`BirthDateError`
instead. Flows turn a refusal into a whole translated sentence and re-ask the same
question; nothing here is worded for people.

Digits may be typed in any script's decimal digits — in practice ASCII or Tamil
(௦ ௧ ௨ ௩ ௪ ௫ ௬ ௭ ௮ ௯).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

DEFAULT_MAX_TEXT = 4096
"""The longest text any channel delivers in one message (WhatsApp, Telegram)."""

NAME_MIN, NAME_MAX = 2, 100
ADULT_AGE, MAX_AGE = 18, 120


class BirthDateError(enum.StrEnum):
    UNREADABLE = "unreadable"
    """Not dd/mm/yyyy, or no such day (31/04, 29/02 in a common year)."""
    IN_FUTURE = "in_future"
    UNDER_18 = "under_18"
    TOO_OLD = "too_old"
    """More than 120 years ago: a typo, not a member."""


# --- text ------------------------------------------------------------------------------


def ascii_digits(text: str) -> str:
    """Every decimal digit (Tamil ௧, Devanagari १, fullwidth １ …) as its ASCII digit."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in text
    )


def normalise_text(text: str, max_length: int = DEFAULT_MAX_TEXT) -> str:
    """NFC; format characters (zero-width space/joiners, BOM, bidi overrides, soft hyphen)
    and control characters removed; runs of whitespace (newlines too) collapsed to one
    space; trimmed; cut to ``max_length`` characters."""
    text = unicodedata.normalize("NFC", text)
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        if category == "Cc" and not ch.isspace():
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())[:max_length]


_CHOICE = re.compile(r"(\d{1,4})[.)]?")
_TAMIL_TEN = "௰"  # the traditional Tamil sign for ten


def parse_choice_number(text: str) -> int | None:
    """The number of a numbered choice ('2', '௨', '2.', ' 2) ', '௰' → 10), else None."""
    cleaned = normalise_text(text, 16)
    if cleaned == _TAMIL_TEN:
        return 10
    match = _CHOICE.fullmatch(ascii_digits(cleaned))
    return int(match.group(1)) if match else None


# --- names -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedName:
    text: str
    is_tamil: bool
    """True when the name has Tamil letters: store it in ``first_name_ta`` as well."""


def _is_tamil(ch: str) -> bool:
    return "\u0b80" <= ch <= "\u0bff"


def _name_char_ok(ch: str) -> bool:
    if ch in " .":
        return True
    category = unicodedata.category(ch)
    if _is_tamil(ch):
        # Letters, vowel signs and the virama; not Tamil digits or symbols.
        return category in ("Lo", "Mn", "Mc")
    if category in ("Lu", "Ll", "Lt"):
        return unicodedata.name(ch, "").startswith("LATIN ")
    return category == "Mn" and "\u0300" <= ch <= "\u036f"  # Latin accents left uncomposed


def parse_name(text: str) -> ParsedName | None:
    """A person's name in Tamil script or Latin letters, with spaces and dots (initials:
    "K. Murugan", "க. முருகன்"), 2–100 characters, starting with a letter. Digits,
    emoji, punctuation and anything that looks like code give None."""
    name = normalise_text(text, NAME_MAX + 1)
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return None
    if not unicodedata.category(name[0]).startswith("L"):
        return None
    if not all(_name_char_ok(ch) for ch in name):
        return None
    if sum(1 for ch in name if unicodedata.category(ch)[0] in "LM") < NAME_MIN:
        return None  # "A." is an initial, not a name
    return ParsedName(name, any(_is_tamil(ch) for ch in name))


# --- dates -----------------------------------------------------------------------------

_DATE = re.compile(r"(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{4})")


def age_on(born: date, today: date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def parse_birth_date(text: str, today: date) -> date | BirthDateError:
    """dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy or dd mm yyyy (ASCII or Tamil digits) of
    someone aged 18 to 120 on ``today`` (the date in India)."""
    match = _DATE.fullmatch(ascii_digits(normalise_text(text, 40)))
    if not match:
        return BirthDateError.UNREADABLE
    day, month, year = (int(g) for g in match.groups())
    try:
        born = date(year, month, day)
    except ValueError:
        return BirthDateError.UNREADABLE
    if born > today:
        return BirthDateError.IN_FUTURE
    age = age_on(born, today)
    if age < ADULT_AGE:
        return BirthDateError.UNDER_18
    if age > MAX_AGE:
        return BirthDateError.TOO_OLD
    return born


# --- numbers and codes -----------------------------------------------------------------

_PINCODE = re.compile(r"[1-9][0-9]{5}")
_EPIC = re.compile(r"[A-Z]{3}[0-9]{7}")


def _compact(text: str, max_length: int) -> str:
    """Digits made ASCII, spaces and dashes dropped."""
    cleaned = ascii_digits(normalise_text(text, max_length))
    return cleaned.replace(" ", "").replace("-", "")


def parse_pincode(text: str) -> str | None:
    """An Indian PIN code: six digits, the first 1–9 ('600 001', '௬௦௦௦௦௧' → '600001')."""
    pincode = _compact(text, 20)
    return pincode if _PINCODE.fullmatch(pincode) else None


def parse_epic(text: str) -> str | None:
    """An Election Commission voter ID (EPIC): three letters and seven digits,
    upper-cased ('abc 1234567' → 'ABC1234567')."""
    epic = _compact(text, 30).upper()
    return epic if _EPIC.fullmatch(epic) else None


_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_EMAIL_DOMAIN = re.compile(r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def parse_email(text: str) -> str | None:
    """A plain address ``local@domain.tld``, at most 254 characters; the domain is
    lower-cased. Display names, quoted local parts and IP-literal domains give None."""
    email = normalise_text(text, 300)
    local, at, domain = email.rpartition("@")
    if (
        not at
        or len(email) > 254
        or len(local) > 64
        or not _EMAIL_LOCAL.fullmatch(local)
        or not _EMAIL_DOMAIN.fullmatch(domain)
    ):
        return None
    return f"{local}@{domain.lower()}"
