"""The words members type, in the forms they really type them.

The catalog writes keywords in their formal written form (உதவி, வேண்டாம், தொடங்கு), but
people on a phone send the spoken form (ஆமா, இல்ல, வேணாம்), the polite imperative
(நிறுத்துங்கள்), or — on a feature phone without a Tamil keyboard — Tamil in Latin
letters (aamaa, illa, udhavi). Each table here lists them all; the flows build their
``words=`` from these, so a form added here is accepted everywhere its meaning applies.

Matching is exact after :func:`fold`: people copy the quote marks the bot writes around a
keyword ('இல்லை') and add a question mark to an answer ("ஆமா?"), so those are ignored.
``tests/test_keywords.py`` fails when a keyword quoted in a catalog sentence is not
accepted by the table its translator comment names.
"""

from __future__ import annotations

STRIPPED = " .!?'\"‘’“”`"


def fold(text: str, strip: str = "") -> str:
    """``text`` as compared with keywords: casefolded, without surrounding spaces, full
    stops, exclamation or question marks, quote marks (and ``strip``)."""
    return text.casefold().strip(STRIPPED + strip)


# --- the global words (bot/engine.py) --------------------------------------------------

HELP = ("help", "உதவி", "உதவுங்கள்", "ஹெல்ப்", "udhavi", "uthavi", "udavi")
MENU = (
    "menu", "0", "௦", "மெனு", "மெனூ", "முதன்மை மெனு", "main menu", "மெயின் மெனு",
    "பட்டியல்",
)  # fmt: skip
STOP = (
    "stop", "நிறுத்து", "நிறுத்துங்கள்", "ஸ்டாப்", "niruthu", "nirutthu", "niruththu",
    "unsubscribe", "அறிவிப்பு வேண்டாம்", "அறிவிப்புகள் வேண்டாம்",
)  # fmt: skip
START = (
    "start", "தொடங்கு", "தொடங்குங்கள்", "ஆரம்பி", "ஸ்டார்ட்", "thodangu", "aarambi", "unstop",
)  # fmt: skip
LANGUAGE = ("language", "மொழி", "மொழி மாற்று", "மொழி மாற்ற", "mozhi")
CANCEL = (
    "cancel", "ரத்து", "ரத்து செய்", "ரத்து செய்ய", "ரத்து செய்யுங்கள்", "கேன்சல்",
    "rathu", "radhu", "rattu", "ratthu",
)  # fmt: skip

# --- answers ---------------------------------------------------------------------------

YES = (
    "yes", "y", "ok", "okay", "ஆம்", "ஆமா", "ஆமாம்", "ஓகே", "எஸ்",
    "aam", "aama", "aamaa", "amam", "aamam",
)  # fmt: skip
"""An explicit yes: enough to delete someone's details."""
FINE = ("சரி", "சரிங்க", "sari", "seri")
"""'All right': a yes to a question that can be undone, not to deleting details."""
NO = (
    "no", "n", "நோ", "இல்லை", "இல்ல", "இல்லைங்க", "illa", "illai", "ila",
    "வேண்டாம்", "வேணாம்", "venam", "vendam", "vendaam",
)  # fmt: skip
ACKNOWLEDGE = ("ok", "okay", "ஓகே")
"""'Seen': a yes to a question, but sent alone after an invitation it says nothing."""
COMING = (
    *(w for w in YES if w not in ACKNOWLEDGE),
    "வருவேன்", "வரேன்", "வருகிறேன்", "வர்றேன்", "வருவோம்", "ஆம், வருகிறேன்",
    "varuven", "varuvean", "varen", "varugiren",
    "i'll come", "i will come", "will come", "coming", "yes, i will come",
)  # fmt: skip
"""'I will come', as typed in answer to an event's invitation (bot/rsvp.py)."""
NOT_COMING = (
    *NO,
    "வரல", "வரலை", "வரல்ல", "வரவில்லை", "வர மாட்டேன்", "வரமாட்டேன்", "வர முடியாது",
    "வரமுடியாது", "வர இயலாது", "முடியாது", "varala", "mudiyathu", "mudiyadhu",
    "can't come", "cannot come", "can not come", "not coming", "won't come",
)  # fmt: skip
"""'I cannot come', as typed in answer to an event's invitation."""
SKIP = (
    *NO, "skip", "none", "தவிர்", "thavir", "ஸ்கிப்", "கிடையாது", "kidaiyathu", "-", "nil",
    "na", "n/a",
)  # fmt: skip
"""Leave an optional answer out ('இல்லை' in the catalog: "I have none")."""
AGAIN = ("மீண்டும்", "மறுபடி", "மறுபடியும்", "திரும்ப", "marupadi", "thirumba")
PRIVACY = ("privacy", "தனியுரிமை", "thaniyurimai", "thaniurimai")
"""The full privacy notice, asked for at the short one sent by SMS."""
BACK = ("back", "பின்", "பின்செல்", "பின்செல்ல", "திரும்ப", "பின்னால்")

# --- languages -------------------------------------------------------------------------

LANGUAGE_NAMES = {
    "ta": ("tamil", "தமிழ்", "தமிழில்", "tamizh", "thamizh", "thamil"),
    "en": ("english", "ஆங்கிலம்", "ஆங்கிலத்தில்", "இங்கிலீஷ்", "inglish", "eng"),
}
"""A language's names: typed outside a free-text answer, they switch to it."""


def is_skip(text: str) -> bool:
    return fold(text) in SKIP


def language_named(text: str) -> str | None:
    """The language (``"ta"``, ``"en"``) ``text`` names, if it is just a language name."""
    folded = fold(text)
    return next((lang for lang, names in LANGUAGE_NAMES.items() if folded in names), None)
