"""Phone numbers as members type them, to E.164 (``+919840012345``).

A member is found by phone number (DESIGN.md, "Identity"), so every phone that enters
the system goes through :func:`normalise_phone` first.
"""

from __future__ import annotations

import phonenumbers

from core.validation import ascii_digits, normalise_text

E164_MAX = 15
"""``members.phone`` is VARCHAR(15): '+' and up to 14 digits (every Indian number fits)."""


def normalise_phone(text: str, default_region: str = "IN") -> str | None:
    """E.164 for a valid number, else None.

    Accepts '9840012345', '+91 98400 12345', '098400-12345', '0091 98400 12345',
    '919840012345' and the same in Tamil digits (௯௮௪…); numbers without a country code
    are read as ``default_region``'s."""
    cleaned = ascii_digits(normalise_text(text, 40))
    if not cleaned or not any(ch.isdigit() for ch in cleaned):
        return None
    try:
        number = phonenumbers.parse(cleaned, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 if len(e164) <= E164_MAX else None


def mask_phone(phone: str) -> str:
    """For logs and officials' screens: '+919840012345' → '+91******2345'."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
