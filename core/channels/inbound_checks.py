"""What a parsed inbound message must look like, checked at the adapter's edge.

python-telegram-bot's ``Update.de_json`` builds objects without checking one type: a
chat id of ``"abc"``, a latitude of ``true`` or a text of ``[]`` come through as given,
and would fail deep in a flow (a 500 after the message was logged). Twilio's and the DLT
provider's fields are all strings and are checked where they are parsed; this is the
last look before a message is handed to the conversation engine.
"""

from __future__ import annotations

import math

from core.channels.base import InboundMessage
from core.channels.errors import MalformedPayload


def _number(value: object, limit: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= limit
    )


def _optional(value: object, kind: type) -> bool:
    return value is None or (isinstance(value, kind) and not isinstance(value, bool))


def well_formed(message: InboundMessage) -> InboundMessage:
    """``message`` itself, or :class:`MalformedPayload` when a field has the wrong type."""
    if not message.address or not isinstance(message.address, str):
        raise MalformedPayload("the sender's address is missing")
    if not isinstance(message.text, str):
        raise MalformedPayload("the text is not a string")
    location = message.location
    if location is not None and not (
        _number(location.latitude, 90.0)
        and _number(location.longitude, 180.0)
        and _optional(location.label, str)
    ):
        raise MalformedPayload("the location is not a latitude and longitude")
    contact = message.contact
    if contact is not None and not (
        isinstance(contact.phone, str)
        and _optional(contact.first_name, str)
        and _optional(contact.user_id, int)
    ):
        raise MalformedPayload("the contact card is not a phone number")
    if not (
        _optional(message.choice_id, str)
        and _optional(message.sender_user_id, int)
        and _optional(message.profile_name, str)
    ):
        raise MalformedPayload("a sender field has the wrong type")
    return message
