"""Everyone's main menu fits WhatsApp's list of ten: an official's duties are behind
"Party work" (கட்சிப் பணி, bot/flows/party.py), and each duty opens both from that
submenu and by its word typed at the main menu."""

from __future__ import annotations

import re

import pytest

from bot.flows import menu, party
from core.channels.base import Channel
from core.channels.twilio import LIST_PICKER_MAX
from core.i18n import Language, _, use_language
from core.seed.demo import DEMO_PEOPLE, POSITIONS
from core.services import ballots

GENERAL_SECRETARY = "+12025550101"  # Kavitha Selvam: every permission
BOOTH_AGENT = "+12025550105"  # Ilango Raman: reports only
ORDINARY_MEMBER = "+12025550111"  # Priya Rajendran: no position
STRANGER = "+919840100077"
NUMBERED = re.compile(r"^\d+\. ", re.MULTILINE)


@pytest.fixture
def election_night(monkeypatch: pytest.MonkeyPatch) -> None:
    """The longest menu: an election open to vote in and to stand in, for everyone."""

    async def both(*args: object, **kwargs: object) -> set[str]:
        return {"vote", "stand"}

    monkeypatch.setattr(ballots, "menu_entries", both)


def test_the_longest_possible_menu_fits_a_whatsapp_list() -> None:
    # Everything a member can be shown at once (a stranger's link/join never with these).
    main = [item for item in menu.LABELS if item not in ("link", "join", *party.LABELS)]
    assert len(main) <= LIST_PICKER_MAX
    assert len(party.LABELS) <= LIST_PICKER_MAX


async def sent_as_list(m, providers, phone: str) -> bool:
    to_them = [s for s in providers.twilio.sent if s.get("To") == f"whatsapp:{phone}"]
    return bool(to_them) and bool(to_them[-1].get("ContentSid"))


@pytest.mark.usefixtures("election_night")
@pytest.mark.parametrize(
    "phone", [STRANGER, *(p.phone for p in DEMO_PEOPLE)], ids=lambda phone: phone[-4:]
)
async def test_no_one_sees_more_than_ten_items_on_whatsapp(member, providers, phone) -> None:
    m = member(Channel.WHATSAPP, phone)
    shown = await m.says("hi")
    if phone == STRANGER:  # their language, then the privacy notice, then the menu
        await m.says("1")
        shown = await m.says("1")
    assert 4 <= len(NUMBERED.findall(shown)) <= LIST_PICKER_MAX, shown
    assert await sent_as_list(m, providers, phone), "not sent as a list picker"
    person = next((p for p in DEMO_PEOPLE if p.phone == phone), None)
    position = next((s for s in POSITIONS if person and s.name == person.position), None)
    # Party work is shown to those with a duty, and only to them.
    assert ("கட்சிப் பணி" in shown or "Party work" in shown) == bool(
        position and position.permissions
    ), shown


@pytest.mark.usefixtures("election_night")
async def test_a_members_numbers_stay_where_they_were_and_an_officials_add_one(member) -> None:
    ordinary = ["membership", "vote", "stand", "language", "help", "privacy"]
    ordinary += ["events", "grievance", "donate"]
    official = [*ordinary[:3], "party", *ordinary[3:]]
    for phone, expected in ((ORDINARY_MEMBER, ordinary), (GENERAL_SECRETARY, official)):
        shown = await member(Channel.WHATSAPP, phone).says("hi")
        items = [line.split(". ", 1)[1] for line in shown.splitlines() if NUMBERED.match(line)]
        language = next(p.language for p in DEMO_PEOPLE if p.phone == phone)
        with use_language(Language(language)):
            assert items == [_(menu.LABELS[item]) for item in expected]


DUTY_WORDS = {
    "verify": "சரிபார்",
    "announce": "அறிவிப்பு",
    "report": "report",
    "event_new": "புதிய நிகழ்வு",
    "desk": "புகார் மேசை",
    "run_election": "தேர்தல் நடத்த",
}


@pytest.mark.parametrize("duty", list(party.LABELS))
async def test_an_official_reaches_each_duty_by_the_submenu_and_by_its_word(
    member, duty: str
) -> None:
    official = member(Channel.WHATSAPP, GENERAL_SECRETARY)
    main = await official.says("hi")
    number = next(line.split(".")[0] for line in main.splitlines() if line.endswith("கட்சிப் பணி"))
    duties = await official.says(number)
    listed = [line.split(". ", 1)[1] for line in duties.splitlines() if NUMBERED.match(line)]
    assert len(listed) == len(party.LABELS)  # every duty: this official holds them all
    via_submenu = await official.says(str(list(party.LABELS).index(duty) + 1))

    await official.says("menu")
    via_word = await official.says(DUTY_WORDS[duty])
    assert via_word == via_submenu
    assert "கட்சிப் பணி:" not in via_word and "புரியவில்லை" not in via_word


async def test_a_duty_word_is_refused_to_someone_without_the_duty(member) -> None:
    agent = member(Channel.WHATSAPP, BOOTH_AGENT)  # reports only
    await agent.says("hi")
    refused = await agent.says("அறிவிப்பு")
    assert "அறிவிப்பு அனுப்ப" not in refused and "கட்சிப் பணி" in refused  # the menu again
    assert await agent.says("report") != refused


async def test_the_submenu_by_sms_is_its_numbered_list_alone(member, providers) -> None:
    official = member(Channel.SMS, GENERAL_SECRETARY)
    main = await official.says("hi")
    number = next(line.split(".")[0] for line in main.splitlines() if line.endswith("கட்சிப் பணி"))
    duties = await official.says(number)
    assert duties.startswith("1. ") and len(NUMBERED.findall(duties)) == len(party.LABELS)
