"""The Tamil and English catalogs are complete, current, and compiled."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from core.i18n import (
    LOCALES_DIR,
    Language,
    _,
    format_day,
    format_moment,
    format_money,
    use_language,
)

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("ta", "en")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def catalog(lang: str):
    with open(LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def source_messages() -> set[str]:
    found: set[str] = set()
    for package in ("core", "bot", "notifier"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")]
        ):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_sentence_in_the_code_is_in_the_catalog(lang: str) -> None:
    ids = {m.id for m in catalog(lang) if m.id}
    missing = source_messages() - ids
    assert not missing, f"{lang}: run `make i18n` and translate: {sorted(missing)[:5]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_entry_is_untranslated_or_fuzzy(lang: str) -> None:
    bad = [m.id for m in catalog(lang) if m.id and (not m.string or m.fuzzy)]
    assert not bad, f"{lang}: untranslated or fuzzy: {bad[:5]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_every_placeholder(lang: str) -> None:
    for message in catalog(lang):
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                PLACEHOLDER.findall(message.string)
            ), message.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_its_source(lang: str) -> None:
    compiled = LOCALES_DIR / lang / "LC_MESSAGES" / "messages.mo"
    with open(compiled, "rb") as fh:
        shipped = {m.id: m.string for m in read_mo(fh) if m.id}
    buffer = io.BytesIO()
    write_mo(buffer, catalog(lang))
    buffer.seek(0)
    fresh = {m.id: m.string for m in read_mo(buffer) if m.id}
    assert shipped == fresh, f"{lang}: messages.mo is stale; run `make i18n`"


def test_tamil_is_really_tamil() -> None:
    with use_language(Language.TAMIL):
        assert _("Help") == "உதவி"
    with use_language(Language.ENGLISH):
        assert _("Help") == "Help"


def test_dates_show_tamil_month_names_in_indian_time() -> None:
    assert format_day(date(2026, 11, 26), Language.TAMIL) == "26 நவம்பர், 2026"
    assert format_day(date(2026, 11, 26), Language.ENGLISH) == "26 November 2026"
    # 20:00 UTC is 01:30 the next morning in Asia/Kolkata.
    moment = format_moment(datetime(2026, 11, 26, 20, 0, tzinfo=UTC), Language.ENGLISH)
    assert moment.startswith("27 November 2026, 1:30")


def test_tamil_times_say_the_part_of_the_day_not_am_or_pm() -> None:
    # 13:05 UTC is 18:35 in Asia/Kolkata; 20:00 UTC is 01:30 the next night.
    evening = format_moment(datetime(2026, 11, 26, 13, 5, tzinfo=UTC), Language.TAMIL)
    assert evening == "26 நவம்பர் 2026, மாலை 6:35"
    night = format_moment(datetime(2026, 11, 26, 20, 0, tzinfo=UTC), Language.TAMIL)
    assert night == "27 நவம்பர் 2026, இரவு 1:30"
    morning = format_moment(datetime(2026, 11, 27, 3, 0, tzinfo=UTC), Language.TAMIL)
    assert morning.endswith("காலை 8:30") and "AM" not in morning and "PM" not in evening


def test_money_uses_indian_grouping() -> None:
    assert format_money(Decimal("100000"), Language.ENGLISH) == "₹1,00,000.00"
    assert format_money(Decimal("2500000.5"), Language.TAMIL) == "₹25,00,000.50"
