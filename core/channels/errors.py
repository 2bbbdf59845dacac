"""What every provider adapter shares beyond the message contract: the error for a
payload that is not what the provider sends, and a delivery status update.

Status callbacks (Twilio, the DLT provider) parse to one :class:`StatusUpdate` so the
notifier moves delivery rows the same way whichever provider carried the message.
"""

from __future__ import annotations

import base64
import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from core.channels.base import Outcome


class MalformedPayload(ValueError):
    """A webhook body that is not what the provider sends (missing ids, wrong types).

    Routes answer it with HTTP 400 and never hand it to a flow."""


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"

    @property
    def is_final(self) -> bool:
        return self in (DeliveryStatus.READ, DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    provider: str
    """twilio or dlt."""
    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    """The provider's code as a string (Twilio ``ErrorCode``, DLT ``DetailedStatusCode``)."""
    address: str | None = None
    """The recipient, E.164 without any channel prefix."""
    detail: str | None = None
    """The provider's own words for the outcome (DLT ``DetailedStatus``)."""
    outcome: Outcome | None = None
    """What the provider's code means (the adapter's ``status_outcome``), for a failed
    or undelivered message, or any message that carries an error code."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def basic_auth_header(user: str, password: str) -> str:
    """An HTTP basic ``Authorization`` value (aiohttp deprecates its ``BasicAuth``)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
