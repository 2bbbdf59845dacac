"""core.validation: what members type, in Tamil and English.

Also core.phones and core.security, whose inputs are the same kind of typed text."""

from __future__ import annotations

from datetime import date

import pytest

from core.phones import mask_phone, normalise_phone
from core.security import aadhaar_key, keyed_hmac
from core.validation import (
    BirthDateError,
    ParsedName,
    ascii_digits,
    normalise_text,
    parse_birth_date,
    parse_choice_number,
    parse_email,
    parse_epic,
    parse_name,
    parse_pincode,
)

TODAY = date(2026, 11, 26)


# --- text -----------------------------------------------------------------------------


def test_tamil_digits_become_ascii() -> None:
    assert ascii_digits("௦௧௨௩௪௫௬௭௮௯") == "0123456789"
    assert ascii_digits("abc ௧2") == "abc 12"


def test_normalise_text_collapses_strips_and_caps() -> None:
    assert normalise_text("  Selvi \n\t  Murugan  ") == "Selvi Murugan"
    assert normalise_text("Sel\u200bvi\u200d\ufeff") == "Selvi"
    assert normalise_text("a\x00b") == "ab"
    assert normalise_text("x" * 5000, max_length=10) == "x" * 10
    # NFC: a decomposed é becomes one code point
    assert normalise_text("Re\u0301mi") == "R\u00e9mi"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", 1),
        (" 2 ", 2),
        ("௧", 1),
        ("௩", 3),
        ("௧௦", 10),
        ("௰", 10),
        ("3.", 3),
        ("4)", 4),
        ("0", 0),
    ],
)
def test_choice_numbers(text: str, number: int) -> None:
    assert parse_choice_number(text) == number


@pytest.mark.parametrize("text", ["", "one", "1a", "12345", "-1", "1.5", "௧ ௨"])
def test_not_choice_numbers(text: str) -> None:
    assert parse_choice_number(text) is None


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "tamil"),
    [
        ("Selvi Murugan", "Selvi Murugan", False),
        ("  K.  Murugan ", "K. Murugan", False),
        ("முருகன்", "முருகன்", True),
        ("க. முருகன்", "க. முருகன்", True),
        ("Thol. திருமாவளவன்", "Thol. திருமாவளவன்", True),
        ("Rémi", "Rémi", False),
        ("Jo", "Jo", False),
    ],
)
def test_names(text: str, name: str, tamil: bool) -> None:
    assert parse_name(text) == ParsedName(name, tamil)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "A",
        "A.",
        ". Murugan",
        "Murugan 😀",
        "😀😀😀",
        "x" * 5000,
        "a" * 101,
        "Robert'); DROP TABLE members;--",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "Murugan2",
        "முருகன்௧",  # a Tamil digit
        "Иван",  # Cyrillic
        "राम",  # Devanagari
        "http://example.com",
    ],
)
def test_names_refused(text: str) -> None:
    assert parse_name(text) is None


def test_name_of_100_characters_is_accepted() -> None:
    assert parse_name("a" * 100) is not None


# --- birth dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "born"),
    [
        ("15/08/1990", date(1990, 8, 15)),
        ("15-08-1990", date(1990, 8, 15)),
        ("15.08.1990", date(1990, 8, 15)),
        ("5/8/1990", date(1990, 8, 5)),
        (" 15 / 08 / 1990 ", date(1990, 8, 15)),
        ("15 08 1990", date(1990, 8, 15)),
        ("௧௫/௦௮/௧௯௯௦", date(1990, 8, 15)),
        ("29/02/2000", date(2000, 2, 29)),
        ("26/11/2008", date(2008, 11, 26)),  # 18 today
    ],
)
def test_birth_dates(text: str, born: date) -> None:
    assert parse_birth_date(text, TODAY) == born


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", BirthDateError.UNREADABLE),
        ("yesterday", BirthDateError.UNREADABLE),
        ("1990-08-15", BirthDateError.UNREADABLE),  # year first is not our format
        ("15/08/90", BirthDateError.UNREADABLE),
        ("29/02/2001", BirthDateError.UNREADABLE),  # 2001 is not a leap year
        ("31/04/1990", BirthDateError.UNREADABLE),
        ("15/13/1990", BirthDateError.UNREADABLE),
        ("00/01/1990", BirthDateError.UNREADABLE),
        ("01/01/2030", BirthDateError.IN_FUTURE),
        ("27/11/2026", BirthDateError.IN_FUTURE),
        ("26/11/2011", BirthDateError.UNDER_18),  # 15 years old
        ("27/11/2008", BirthDateError.UNDER_18),  # 18 tomorrow
        ("01/01/1900", BirthDateError.TOO_OLD),
    ],
)
def test_birth_dates_refused(text: str, error: BirthDateError) -> None:
    assert parse_birth_date(text, TODAY) is error


def test_age_limit_is_120_years() -> None:
    assert parse_birth_date("26/11/1906", TODAY) == date(1906, 11, 26)  # exactly 120
    assert parse_birth_date("25/11/1905", TODAY) is BirthDateError.TOO_OLD  # 121


def test_born_on_29_february_turns_18_on_1_march() -> None:
    assert parse_birth_date("29/02/2008", date(2026, 2, 28)) is BirthDateError.UNDER_18
    assert parse_birth_date("29/02/2008", date(2026, 3, 1)) == date(2008, 2, 29)


# --- codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pin"),
    [("600001", "600001"), ("600 001", "600001"), ("௬௦௫௬௦௨", "605602"), (" 110001 ", "110001")],
)
def test_pincodes(text: str, pin: str) -> None:
    assert parse_pincode(text) == pin


@pytest.mark.parametrize("text", ["", "060001", "60001", "6000011", "60000a", "600-00"])
def test_pincodes_refused(text: str) -> None:
    assert parse_pincode(text) is None


@pytest.mark.parametrize(
    ("text", "epic"),
    [
        ("ABC1234567", "ABC1234567"),
        ("abc1234567", "ABC1234567"),
        ("ABC 1234567", "ABC1234567"),
        ("abc-௧௨௩௪௫௬௭", "ABC1234567"),
    ],
)
def test_epic(text: str, epic: str) -> None:
    assert parse_epic(text) == epic


@pytest.mark.parametrize(
    "text", ["", "AB1234567", "ABCD1234567", "ABC123456", "ABC12345678", "1231234567", "ABCDEFGHIJ"]
)
def test_epic_refused(text: str) -> None:
    assert parse_epic(text) is None


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("name@example.com", "name@example.com"),
        (" Selvi.M+vck@Example.CO.IN ", "Selvi.M+vck@example.co.in"),
    ],
)
def test_emails(text: str, email: str) -> None:
    assert parse_email(text) == email


@pytest.mark.parametrize(
    "text",
    [
        "",
        "name",
        "name@",
        "@example.com",
        "name@example",
        "name@@example.com",
        "na me@example.com",
        "name@exa mple.com",
        ".name@example.com",
        "name..x@example.com",
        "name@-example.com",
        "Selvi <name@example.com>",
        "a" * 250 + "@example.com",
    ],
)
def test_emails_refused(text: str) -> None:
    assert parse_email(text) is None


# --- phones (core.phones) -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "9840012345",
        "98400 12345",
        "+91 98400 12345",
        "+91-98400-12345",
        "098400-12345",
        "0091 98400 12345",
        "919840012345",
        "௯௮௪௦௦௧௨௩௪௫",
    ],
)
def test_indian_phones_to_e164(text: str) -> None:
    assert normalise_phone(text) == "+919840012345"


def test_foreign_phone() -> None:
    assert normalise_phone("+1 415 523 8886") == "+14155238886"


@pytest.mark.parametrize("text", ["", "hello", "12345", "98400", "+91 98400 1234", "x" * 5000])
def test_invalid_phones(text: str) -> None:
    assert normalise_phone(text) is None


def test_mask_phone() -> None:
    assert mask_phone("+919840012345") == "+91******2345"


# --- keyed hashes (core.security) -----------------------------------------------------


def test_keyed_hmac_is_keyed_and_unambiguous() -> None:
    digest = keyed_hmac("k1", "a", "b")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == keyed_hmac("k1", "a", "b")
    assert digest != keyed_hmac("k2", "a", "b")
    assert keyed_hmac("k", "ab", "c") != keyed_hmac("k", "a", "bc")


def test_aadhaar_key_keeps_only_an_hmac_and_last_four() -> None:
    digest, last4 = aadhaar_key("secret", "2345 6789 0123")
    assert last4 == "0123"
    assert "234567890123" not in digest
    assert (digest, last4) == aadhaar_key("secret", "2345-6789-0123")
    assert digest != aadhaar_key("other-secret", "234567890123")[0]


@pytest.mark.parametrize("number", ["12345", "1234 5678 9012", "0234 5678 9012", "abcd efgh ijkl"])
def test_aadhaar_key_refuses_non_numbers(number: str) -> None:
    with pytest.raises(ValueError):
        aadhaar_key("secret", number)
