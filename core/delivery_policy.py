"""What happens to a message after a provider's refusal: one pure function over the
adapters' provider-neutral :class:`~core.channels.base.Outcome`, the same for a send
that failed at once (notifier/sending.py, the priority lane) and for a status callback
that reported it later (core.deliveries.apply_status).

| outcome        | channel  | decision                                                  |
|----------------|----------|-----------------------------------------------------------|
| opted out      | any      | record the opt-out; this message fails                    |
| outside window | WhatsApp | send again as the approved template (unless it was one)   |
| unreachable    | WhatsApp | send on another channel (Telegram, else SMS), if any      |
| retry          | any      | send again after a backoff, until ``max_attempts``        |
| anything else  |          | fail, keeping the provider's code                         |

A status callback reports the end of one message, so nothing resends it as a retry
(``max_attempts=None``).
"""

from __future__ import annotations

import enum

from core.channels.base import Channel, Outcome


class Decision(enum.StrEnum):
    RETRY = "retry"
    AS_TEMPLATE = "as_template"
    REROUTE = "reroute"
    """Another channel, when the member has one; the caller fails the message if not."""
    OPT_OUT = "opt_out"
    FAIL = "fail"


def decide(
    outcome: Outcome,
    channel: Channel | str,
    *,
    attempts: int,
    max_attempts: int | None,
    via_template: bool = False,
) -> Decision:
    """The decision for a message on ``channel`` that met ``outcome`` on its
    ``attempts``-th try (``via_template``: it was already the WhatsApp template)."""
    whatsapp = Channel(channel) is Channel.WHATSAPP
    if outcome is Outcome.OPTED_OUT:
        return Decision.OPT_OUT
    if outcome is Outcome.OUTSIDE_WINDOW and whatsapp and not via_template:
        return Decision.AS_TEMPLATE
    if outcome is Outcome.UNREACHABLE and whatsapp:
        return Decision.REROUTE
    if outcome is Outcome.RETRY and max_attempts is not None and attempts < max_attempts:
        return Decision.RETRY
    return Decision.FAIL
