"""The DLT template combinations the flows' declarations imply, for
core/dlt_combinations.txt (core/dlt_templates.py explains combinations).

Read from the declarations, as the diagrams are: each question whose wording is fixed,
with its choices when their number is, alone, after its hint (a wrong answer), and after
HELP (asked at any question). Questions with a changing wording or number of choices
cannot be read here; their combinations are added to the file as conversations show
them (a test through the fake DLT provider fails on a missing one, naming the line).

``python -m bot.flows.dlt_combinations`` adds what is missing to the file; the test in
tests/test_dlt_templates.py fails while something is.
"""

from __future__ import annotations

import sys

from bot.conversation import Ask
from bot.flows import FLOWS, party
from bot.flows.common import HELP_SMS
from core.dlt_templates import COMBINATIONS_FILE, combinations, sentence_name


def question(ask: Ask) -> list[str]:
    """The names of the question's blocks by SMS, or [] when its wording changes."""
    prompt = ask.sms if ask.sms is not None else ask.prompt
    if not isinstance(prompt, str):
        return []
    blocks = [sentence_name(prompt)] if prompt else []
    if ask.sms_choices and not callable(ask.choices) and ask.choices:
        blocks.append(f"choices{len(ask.choices)}")
    elif callable(ask.choices) and ask.sms_choices:
        return []
    return blocks


MENU_SIZES = range(4, 10)
"""The menu by SMS is its choices alone: four for anyone, more for a member (Events while
one is coming, Complaints, Vote and Stand during an election) and Party work for an
official, whose duties are a submenu (bot/flows/party.py): at most nine, as Donate is not
offered by SMS (bot/flows/menu.py ``menu_choices``)."""
BEFORE_THE_MENU = (
    "Cancelled. Nothing was saved.",
    "Welcome back. You will get announcements here again.",
    "Done. I will write to you in English from now on.",
    "We had not heard from you for a while, so we started again.",
    "Sorry, I did not understand that.",
    HELP_SMS,
)
"""What the global words (bot/engine.py) and the menu's own hint say before the menu."""
DUTY_SIZES = range(1, len(party.LABELS) + 1)
"""The Party work submenu by SMS is its choices alone, one for each duty the official has
(bot/flows/party.py); after its hint or HELP as any question."""
BEFORE_THE_DUTIES = ("Sorry, I did not understand that.", HELP_SMS)


def implied() -> set[str]:
    found = {
        f"{sentence_name(said)}+choices{size}" for said in BEFORE_THE_MENU for size in MENU_SIZES
    }
    found |= {
        f"{sentence_name(said)}+choices{size}" for said in BEFORE_THE_DUTIES for size in DUTY_SIZES
    }
    for flow in FLOWS.values():
        for ask in flow.states.values():
            blocks = question(ask)
            if not blocks:
                continue
            hint = [sentence_name(ask.hint)] if ask.choices or ask.parse else []
            for before in ([], hint, [sentence_name(HELP_SMS)]):
                parts = before + blocks
                if len(parts) > 1:
                    found.add("+".join(parts))
    return found


def main() -> int:
    missing = sorted(implied() - set(combinations()))
    if missing:
        text = COMBINATIONS_FILE.read_text(encoding="utf-8")
        header = [line for line in text.splitlines() if line.startswith("#")]
        lines = sorted(set(combinations()) | set(missing))
        COMBINATIONS_FILE.write_text("\n".join([*header, *lines]) + "\n", encoding="utf-8")
    print(f"{len(missing)} combinations added to {COMBINATIONS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
