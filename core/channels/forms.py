"""Form-encoded webhook bodies, read the way the providers write them.

Twilio and the DLT provider post ``application/x-www-form-urlencoded`` bodies in UTF-8
(Twilio documents it; the gateway is configured so). The ``charset`` in the
``Content-Type`` header is not signed, so it is not trusted: decoding with it would let
anyone turn a bogus name (``charset=x-vck-bogus``) into a ``LookupError`` before the
signature is even checked, or reinterpret the bytes of a signed body.

The result is a :class:`~multidict.MultiDict`: Twilio signs every value of a repeated
field, so the signature check needs them all.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from multidict import MultiDict, MultiDictProxy

from core.channels.errors import MalformedPayload

MAX_FIELDS = 1000
"""Providers send a few dozen fields; aiohttp's own form reader stops at this many."""


def parse_form(body: bytes) -> MultiDictProxy[str]:
    """The fields of a form-encoded ``body``; :class:`MalformedPayload` for anything a
    provider would not send (bytes or percent-escapes that are not UTF-8, too many
    fields)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError is one, so is too many fields
        raise MalformedPayload("unreadable form body") from exc
    return MultiDictProxy(MultiDict(pairs))
