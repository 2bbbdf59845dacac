"""SMS part counting: what a member's SMS costs (FACTS.md, "SMS in India")."""

from __future__ import annotations

import pytest

from core.channels.sms_text import estimated_cost_paise, is_gsm7, segments

TAMIL = "வணக்கம் தோழர்களே "  # every letter forces UCS-2


def tamil(units: int) -> str:
    text = (TAMIL * (units // len(TAMIL) + 1))[:units]
    assert len(text.encode("utf-16-le")) // 2 == units
    return text


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_parts_are_160_then_153(length: int, parts: int) -> None:
    result = segments("a" * length)
    assert (result.encoding, result.characters, result.parts) == ("GSM-7", length, parts)


@pytest.mark.parametrize(("units", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_tamil_forces_ucs2_with_70_then_67(units: int, parts: int) -> None:
    result = segments(tamil(units))
    assert (result.encoding, result.characters, result.parts) == ("UCS-2", units, parts)
    assert result.is_unicode


def test_one_tamil_letter_turns_a_latin_text_into_ucs2() -> None:
    result = segments("a" * 69 + "க")
    assert (result.encoding, result.parts) == ("UCS-2", 1)
    assert segments("a" * 70 + "க").parts == 2


def test_tamil_vowel_signs_are_separate_code_points() -> None:
    # கொ = க + ொ: two UTF-16 code units, two characters billed
    assert segments("கொ").characters == 2
    assert segments("கொடி").characters == 4


def test_gsm7_extension_characters_count_twice() -> None:
    assert segments("€").characters == 2
    assert segments("{[]}").characters == 8
    assert segments("€" * 80).parts == 1
    assert segments("€" * 80 + "a").parts == 2
    assert segments("€").encoding == "GSM-7"


def test_characters_outside_gsm7_force_ucs2() -> None:
    assert not is_gsm7("₹100")  # the rupee sign is not in GSM-7
    assert segments("₹100").encoding == "UCS-2"
    assert segments("emoji 🙂").characters == 8  # a surrogate pair is two code units
    assert is_gsm7("Hello @ £5 é")


def test_an_empty_text_still_costs_one_part() -> None:
    assert segments("").parts == 1


def test_cost_is_per_part() -> None:
    assert estimated_cost_paise(segments(tamil(135)).parts, 25) == 75
    assert estimated_cost_paise(0, 25) == 0
    with pytest.raises(ValueError):
        estimated_cost_paise(-1, 25)
