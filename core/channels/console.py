"""A terminal chat: one typed line in, plain text out.

``/location LAT LON`` shares a location, ``/contact +91…`` shares a contact card;
anything else (including a bare number answering a question) is text.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime

from core.channels.base import Channel, Contact, InboundMessage, Location, Reply
from core.channels.errors import MalformedPayload

PROVIDER = "console"
LOCATION_HINT = "(/location LAT LON)"
CONTACT_HINT = "(/contact +91XXXXXXXXXX)"


def _location(args: list[str]) -> Location:
    if len(args) != 2:
        raise MalformedPayload("usage: /location LAT LON")
    try:
        lat, lon = float(args[0]), float(args[1])
    except ValueError as exc:
        raise MalformedPayload("latitude and longitude are numbers") from exc
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise MalformedPayload("latitude within ±90, longitude within ±180")
    return Location(latitude=lat, longitude=lon)


def _contact(args: list[str]) -> Contact:
    phone = "".join(args)
    digits = phone.removeprefix("+")
    if not phone.startswith("+") or not digits.isdigit() or not 4 <= len(digits) <= 15:
        raise MalformedPayload("usage: /contact +91XXXXXXXXXX")
    return Contact(phone=phone)


def parse_console_line(
    address: str, line: str, *, received_at: datetime, counter: int
) -> InboundMessage:
    """One typed line from ``address`` (an E.164 number) as an :class:`InboundMessage`;
    ``counter`` numbers the lines of the session (the provider message id)."""
    text = unicodedata.normalize("NFC", line.strip())
    command, *args = text.split() or [""]
    location = contact = None
    if command.lower() == "/location":
        location, text = _location(args), ""
    elif command.lower() == "/contact":
        contact, text = _contact(args), ""
    return InboundMessage(
        channel=Channel.CONSOLE,
        address=address,
        provider=PROVIDER,
        provider_message_id=f"console-{counter}",
        received_at=received_at,
        text=text,
        location=location,
        contact=contact,
    )


def render(reply: Reply) -> str:
    """The reply as the terminal shows it: numbered choices, and the command to type
    when the bot asks for a location or contact."""
    lines = [reply.as_plain_text()]
    if reply.ask_location:
        lines.append(LOCATION_HINT)
    if reply.ask_contact:
        lines.append(CONTACT_HINT)
    return "\n".join(line for line in lines if line)
