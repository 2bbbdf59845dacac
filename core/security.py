"""Keyed hashes (HMAC-SHA256 with the server secret ``VCK_SECRET_KEY``).

A plain hash of a short secret — a 6-digit OTP, a 12-digit Aadhaar number — is reversed
by trying every candidate; a keyed HMAC is not, as long as the key stays on the server
(FACTS.md, "OTP" and "Personal data").
"""

from __future__ import annotations

import hashlib
import hmac

from core.validation import ascii_digits


def keyed_hmac(secret: str, *parts: str) -> str:
    """Hex HMAC-SHA256 of ``parts`` under ``secret`` (64 characters).

    Each part is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")`` never collide:
    binding a code to a phone and a purpose cannot be undone by shifting characters."""
    message = "".join(f"{len(part)}:{part};" for part in parts).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def aadhaar_key(secret: str, number: str) -> tuple[str, str]:
    """``(hmac, last4)`` for an Aadhaar number: a dedup key that cannot be brute-forced
    without the server secret, and the most of the number that may be shown.

    Accepts spaces, dashes and Tamil digits; raises ``ValueError`` unless the number has
    exactly 12 digits and does not start with 0 or 1 (no Aadhaar number does)."""
    digits = "".join(ch for ch in ascii_digits(number) if ch not in " -")
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit() or digits[0] in "01":
        raise ValueError("not an Aadhaar number")
    return keyed_hmac(secret, "aadhaar", digits), digits[-4:]
