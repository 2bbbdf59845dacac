"""How many SMS parts a text costs (FACTS.md, "SMS in India").

GSM-7 carries 160 characters in one SMS and 153 per part when split; characters from
the extension table (``^{}\\[~]|€`` and form feed) take two septets. Any other character
-- every Tamil letter -- forces UCS-2: 70 UTF-16 code units in one SMS, 67 per part.
Tamil vowel signs are separate code points, so ``கொ`` counts as two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsSegments:
    encoding: Encoding
    characters: int
    """Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2."""
    parts: int

    @property
    def is_unicode(self) -> bool:
        return self.encoding == "UCS-2"


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _parts(characters: int, single: int, per_part: int) -> int:
    if characters <= single:
        return 1
    return -(-characters // per_part)


def segments(text: str) -> SmsSegments:
    """The encoding, length and part count an SMS carrier bills for ``text``.

    An empty text still costs one part."""
    if is_gsm7(text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return SmsSegments("GSM-7", septets, _parts(septets, GSM7_SINGLE, GSM7_PART))
    units = len(text.encode("utf-16-le")) // 2
    return SmsSegments("UCS-2", units, _parts(units, UCS2_SINGLE, UCS2_PART))


def estimated_cost_paise(parts: int, paise_per_part: int) -> int:
    """Billing is per part: what sending one SMS of ``parts`` parts costs, in paise."""
    if parts < 0 or paise_per_part < 0:
        raise ValueError("parts and paise_per_part must not be negative")
    return parts * paise_per_part
