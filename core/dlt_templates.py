"""Which DLT template every SMS goes with (TRAI DLT, docs in /work/shared/FACTS.md).

DLT scrubbing delivers an SMS only when its text is the registered template's text with
each ``{#var#}`` slot filled (about 30 characters a slot). So every sentence that can go
by SMS has its own template, per language, derived here from the catalogs: the
translation with each ``{placeholder}`` as ``{#var#}``. Its key is stable while the
sentence is: a slug of the English and a hash of the msgid, so a changed sentence gets a
new key, which must be registered again (as DLT requires), and cannot be sent with the
old id by mistake.

One SMS per reply, not one per sentence. A reply is blocks separated by a blank line:
a hint or a "done", then the question, then its numbered choices. Sent one SMS per
sentence, the question and its choices could arrive out of order (SMS has no order), and
each short sentence would cost a part of its own. So the reply goes as one SMS, with the
template of its combination: the sentence templates joined by a blank line, the choices
as ``N. {#var#}`` lines (a choice label is at most 21 characters, well under a slot).
DLT allows multi-line templates; each combination that occurs is registered once, and
its key names its pieces (``key+key+choices3``). :func:`Registry.match` finds the
combination a rendered text is; a text that matches none is refused (a clear
:class:`SendError`, logged), never sent under a wrong id.

Template ids come from ``VCK_DLT_TEMPLATE_IDS`` (JSON: key → the id DLT gave). Outside
production and staging a key without an id gets a deterministic made-up id, so tests
and the demo run against the fake provider, which holds the same registry.
``vck dlt templates --export FILE`` writes what the operator uploads (cli/dlt.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import read_mo

from core.config import Settings
from core.i18n import DOMAIN, LOCALES_DIR, Language

VAR = "{#var#}"
VAR_MAX = 30
"""Characters a ``{#var#}`` slot may hold (the common DLT operator limit)."""
SERVICE = "service-implicit"
OTP = "otp"
CATEGORY = "Political / party membership services"
"""The content category declared for every template: replies to a member who wrote."""
REAL_IDS_REQUIRED = ("production", "staging")
MAX_CHOICES = 10
"""The most choices a question lists (a WhatsApp list's limit; SMS lists as many)."""

_FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_CHOICE_LINE = re.compile(r"\d+\. .+")

CODE_SMS = (
    "{code} is your VCK Connect code. It is valid for {minutes} minutes. "
    "Do not share it with anyone."
)
"""The OTP SMS's msgid (core/effects.py renders it): an OTP template, not a reply."""

BILINGUAL = {
    "choose-language": "VCK Connect: மொழி / Choose your language:",
    "language-hint": "1 = தமிழ், 2 = English",
}
"""SMS sentences in both languages at once, sent before a language is chosen (they are
not in the catalogs: bot/flows/welcome.py and language.py take them from here)."""


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    language: str
    text: str
    """The template as registered: literal text, ``{#var#}`` for each slot."""
    kind: str = SERVICE

    @property
    def pattern(self) -> re.Pattern[str]:
        return _pattern(self.text)


@cache
def _pattern(text: str) -> re.Pattern[str]:
    pieces = [re.escape(p) for p in text.split(VAR)]
    return re.compile(f"(?s){f'.{{0,{VAR_MAX}}}'.join(pieces)}")


WIDE_FIELDS = {"name": 4, "unit": 3, "area": 3, "title": 3, "email": 4, "channels": 2,
               "subject": 3, "question": 10, "note": 10, "text": 10}  # fmt: skip
"""Fields longer than one slot holds (a name may have 100 characters, a unit's Tamil
name 60), given that many ``{#var#}`` in a row, which DLT accepts."""


def dlt_text(sentence: str) -> str:
    """A catalog sentence as a DLT template: each ``{field}`` a ``{#var#}`` slot, or
    several for a :data:`WIDE_FIELDS` one."""
    return _FIELD.sub(lambda m: VAR * WIDE_FIELDS.get(m.group(0)[1:-1], 1), sentence)


def sentence_key(msgid: str, language: str) -> str:
    return f"{sentence_name(msgid)}_{language}"


def sentence_name(msgid: str) -> str:
    """A sentence's key without its language: a few words of it and a hash of it all."""
    if msgid in BILINGUAL.values():
        return next(key for key, text in BILINGUAL.items() if text == msgid)
    words = re.findall(r"[a-z0-9]+", msgid.lower())[:4]
    digest = hashlib.sha1(msgid.encode()).hexdigest()[:8]
    return f"{'-'.join(words) or 'text'}-{digest}"


def choices_template(count: int, language: str) -> Template:
    lines = "\n".join(f"{n}. {VAR}" for n in range(1, count + 1))
    return Template(f"choices{count}_{language}", language, lines)


def dev_template_id(key: str) -> str:
    """A made-up id for ``key`` (19 digits like DLT's), the same in every process."""
    digits = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**15
    return f"1107{digits:015d}"


class NoTemplate(LookupError):
    """No registered template (or combination) is this text."""


@dataclass(frozen=True, slots=True)
class Match:
    key: str
    template: Template


class Registry:
    """Every SMS template, from the compiled catalogs (the same ones replies use)."""

    def __init__(self, settings: Settings, templates: Iterable[Template]) -> None:
        self.settings = settings
        self.sentences: dict[str, Template] = {t.key: t for t in templates}
        # Longest literal text first: "Report: {title}" must not swallow what a longer
        # sentence with the same start says.
        self._ordered = sorted(self.sentences.values(), key=lambda t: -len(t.text.replace(VAR, "")))
        self.combinations = combinations()

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        return cls(settings, catalog_templates())

    def template_id(self, key: str) -> str | None:
        """The registered id of ``key``; a made-up one outside production and staging."""
        found = self.settings.dlt_template_ids.get(key)
        if found:
            return found
        if self.settings.environment in REAL_IDS_REQUIRED:
            return None
        return dev_template_id(key)

    def template(self, key: str) -> Template:
        """The template of a sentence, an OTP or a combination (``a+b+choices3``)."""
        if key in self.sentences:
            return self.sentences[key]
        parts = key.split("+")
        pieces = []
        for part in parts:
            if part.startswith("choices") and "_" in part:
                count, language = part.removeprefix("choices").split("_", 1)
                pieces.append(choices_template(int(count), language))
            elif part in self.sentences:
                pieces.append(self.sentences[part])
            else:
                raise NoTemplate(key)
        language = next((p.language for p in pieces if p.language != "ta+en"), "ta+en")
        return Template(key, language, "\n\n".join(p.text for p in pieces))

    def match(self, text: str) -> Match:
        """The template ``text`` is, filled in; raises :class:`NoTemplate`."""
        blocks = text.split("\n\n")
        choices: Template | None = None
        lines = blocks[-1].split("\n")
        if all(_CHOICE_LINE.fullmatch(line) for line in lines):  # the menu by SMS: choices alone
            blocks = blocks[:-1]
            language = "ta" if any("\u0b80" <= c <= "\u0bff" for c in text) else "en"
            choices = choices_template(len(lines), language)
        keys = self._segment(blocks)
        if keys is None:
            raise NoTemplate(f"{len(blocks)} block(s)")
        if choices is not None:
            keys.append(choices.key)
        key = "+".join(keys)
        if len(keys) > 1 and without_language(key) not in self.combinations:
            raise NoTemplate(f"{without_language(key)} is not in {COMBINATIONS_FILE.name}")
        template = self.template(key)
        if not template.pattern.fullmatch(text):  # a slot overfilled, or mixed languages
            raise NoTemplate(key)
        return Match(key, template)

    def pieces(self, text: str) -> list[tuple[Match, str]]:
        """``text`` as separate SMS, one registered sentence (or the choices) each: what
        goes when a reply's combination is not registered, so the member still gets an
        answer, in more parts. Raises :class:`NoTemplate` when a piece is no template."""
        blocks = text.split("\n\n")
        out: list[tuple[Match, str]] = []
        lines = blocks[-1].split("\n")
        tail: tuple[Match, str] | None = None
        if len(blocks) > 1 and all(_CHOICE_LINE.fullmatch(line) for line in lines):
            language = "ta" if any("\u0b80" <= c <= "\u0bff" for c in text) else "en"
            choices = choices_template(len(lines), language)
            tail = (Match(choices.key, choices), blocks[-1])
            blocks = blocks[:-1]
        start = 0
        while start < len(blocks):
            for end in range(len(blocks), start, -1):
                candidate = "\n\n".join(blocks[start:end])
                found = next(
                    (t for t in self._ordered
                     if t.kind == SERVICE and t.pattern.fullmatch(candidate)),
                    None,
                )  # fmt: skip
                if found is not None:
                    out.append((Match(found.key, found), candidate))
                    start = end
                    break
            else:
                raise NoTemplate(f"block {start + 1} of {len(blocks)}")
        if tail is not None:
            out.append(tail)
        return out

    def _segment(self, blocks: list[str]) -> list[str] | None:
        """The sentence keys ``blocks`` are, in order (a sentence may span blocks)."""
        if not blocks:
            return []
        for end in range(len(blocks), 0, -1):
            candidate = "\n\n".join(blocks[:end])
            for template in self._ordered:
                if template.kind == SERVICE and template.pattern.fullmatch(candidate):
                    rest = self._segment(blocks[end:])
                    if rest is not None:
                        return [template.key, *rest]
        return None

    def registered(self) -> Iterator[Template]:
        """Every template to register: sentences, OTPs, and the combinations that occur
        (:data:`COMBINATIONS_FILE`)."""
        yield from self.sentences.values()
        for count in range(2, MAX_CHOICES + 1):
            for language in Language:
                yield choices_template(count, language.value)
        keys = (in_language(line, lang.value) for line in self.combinations for lang in Language)
        for key in dict.fromkeys(keys):
            yield self.template(key)


COMBINATIONS_FILE = Path(__file__).resolve().parent / "dlt_combinations.txt"
"""The replies of several sentences that occur, one combination key a line. A reply
that is a combination not listed here has no registered template: tests through the
fake provider fail on it, and the line to add is in the error."""


def in_language(combination: str, language: str) -> str:
    """``a+choices2`` as the key of its ``language`` template: ``a_ta+choices2_ta``."""
    return "+".join(
        part if part in BILINGUAL else f"{part}_{language}" for part in combination.split("+")
    )


def without_language(key: str) -> str:
    """The line of :data:`COMBINATIONS_FILE` a combination key is."""
    return re.sub(r"_(ta|en)(?=\+|$)", "", key)


def combinations() -> list[str]:
    lines = COMBINATIONS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def catalog_templates() -> list[Template]:
    return list(_catalog_templates())


@cache
def _catalog_templates() -> tuple[Template, ...]:
    found: list[Template] = [Template(key, "ta+en", text) for key, text in BILINGUAL.items()]
    for language in Language:
        path = LOCALES_DIR / language.value / "LC_MESSAGES" / f"{DOMAIN}.mo"
        with path.open("rb") as f:
            catalog = read_mo(f)
        for message in catalog:
            if not message.id or not isinstance(message.id, str):
                continue
            text = str(message.string or message.id)
            if message.id == CODE_SMS:
                found.append(Template(f"otp_{language.value}", language.value, dlt_text(text), OTP))
                continue
            if not dlt_text(text).replace(VAR, "").strip():
                continue  # nothing literal to register
            found.append(
                Template(sentence_key(message.id, language.value), language.value, dlt_text(text))
            )
    return tuple(found)
