"""Every WhatsApp quick-reply and list label fits, in both languages.

WhatsApp cuts a longer title with "…" (core/channels/twilio.py's ``_numbered``), often in
the middle of a Tamil letter. The limits are the adapter's own; the label is shown after
its number ("2. "), as the adapter sends it."""

from __future__ import annotations

import pytest

from bot.flows import FLOWS, menu, party
from core.channels.base import Choice
from core.channels.twilio import (
    LIST_ITEM_LEN,
    LIST_PICKER_MAX,
    QUICK_REPLY_MAX,
    QUICK_REPLY_TITLE_LEN,
    _numbered,
)
from core.i18n import Language, _, use_language

LIST_BUTTON_LEN = 20
"""WhatsApp's limit on a list picker's button text (Twilio's list-picker ``button``)."""


def declared() -> list[tuple[str, tuple[Choice, ...], str | None]]:
    """(where, choices, list button) of every question whose choices are declared."""
    found = []
    for flow in FLOWS.values():
        for state, ask in flow.states.items():
            if isinstance(ask.choices, tuple) and ask.choices:
                found.append((f"{flow.name}:{state}", ask.choices, ask.list_button))
    # The menu's items depend on who asks; at least four are always shown (a list), at
    # most ten (an official's duties are the Party work submenu: tests/test_conversation_party.py).
    button = menu.FLOW.states["main"].list_button
    member = ["membership", "vote", "stand", "party", "language", "help", "privacy"]
    member += ["events", "grievance", "donate"]  # the longest, in the order shown
    for who, shown in (("member", member), ("stranger", ["join", "language", "help", "privacy"])):
        items = tuple(Choice(item, menu.LABELS[item]) for item in shown)
        found.append((f"menu:main ({who})", items, button))
    duties = tuple(Choice(item, label) for item, label in party.LABELS.items())
    found.append(("party:pick", duties, party.FLOW.states["pick"].list_button))
    return found


def limit_for(n: int, list_button: str | None) -> int | None:
    if n <= QUICK_REPLY_MAX:
        return QUICK_REPLY_TITLE_LEN
    if n <= LIST_PICKER_MAX and list_button:
        return LIST_ITEM_LEN
    return None  # sent as numbered text: no limit


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize(("where", "choices", "list_button"), declared())
def test_every_label_fits_whatsapp(
    language: Language, where: str, choices: tuple[Choice, ...], list_button: str | None
) -> None:
    limit = limit_for(len(choices), list_button)
    with use_language(language):
        for n, choice in enumerate(choices, 1):
            shown = f"{n}. {_(choice.label)}"
            assert limit is None or len(shown) <= limit, f"{where}: {shown!r} > {limit}"
        if list_button and limit == LIST_ITEM_LEN:
            assert len(_(list_button)) <= LIST_BUTTON_LEN, f"{where}: {_(list_button)!r}"


def test_the_menu_is_always_a_list() -> None:
    # At least language, help, privacy and join or membership: never quick replies.
    assert sum(1 for item in menu.LABELS if item not in ("link", "join", "membership")) >= 3
    assert limit_for(4, menu.FLOW.states["main"].list_button) == LIST_ITEM_LEN


@pytest.mark.parametrize(
    "label", ["புதிய உறுப்பினர்களைச் சரிபார்க்க", "வாக்குச்சாவடி எண் நூற்றி இருபத்து மூன்று"]
)
def test_a_label_too_long_is_never_cut_inside_a_tamil_letter(label: str) -> None:
    for limit in range(8, len(label) + 4):
        cut = _numbered(2, label, limit)
        assert len(cut) <= limit
        if cut.endswith("…"):
            kept = cut[3:-1]
            rest = label[len(kept) :]
            # What is dropped never begins with a vowel sign or virama of a kept letter.
            assert rest and not ("\u0bbe" <= rest[0] <= "\u0bcd" or rest[0] == "\u0bd7"), cut
