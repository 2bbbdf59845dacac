"""core.delivery_policy: what each provider-neutral outcome does, as a table."""

from __future__ import annotations

import pytest

from core.channels.base import Channel, Outcome
from core.delivery_policy import Decision, decide

WA, SMS, TG = Channel.WHATSAPP, Channel.SMS, Channel.TELEGRAM


@pytest.mark.parametrize(
    ("outcome", "channel", "attempts", "max_attempts", "via_template", "decision"),
    [
        (Outcome.OPTED_OUT, WA, 1, 6, False, Decision.OPT_OUT),
        (Outcome.OPTED_OUT, SMS, 1, 6, False, Decision.OPT_OUT),
        (Outcome.OPTED_OUT, TG, 1, None, False, Decision.OPT_OUT),
        (Outcome.OUTSIDE_WINDOW, WA, 1, 6, False, Decision.AS_TEMPLATE),
        (Outcome.OUTSIDE_WINDOW, WA, 1, None, False, Decision.AS_TEMPLATE),
        (Outcome.OUTSIDE_WINDOW, WA, 1, 6, True, Decision.FAIL),  # the template was refused
        (Outcome.OUTSIDE_WINDOW, SMS, 1, 6, False, Decision.FAIL),
        (Outcome.UNREACHABLE, WA, 1, 6, False, Decision.REROUTE),
        (Outcome.UNREACHABLE, WA, 1, None, True, Decision.REROUTE),
        (Outcome.UNREACHABLE, TG, 1, 6, False, Decision.FAIL),
        (Outcome.UNREACHABLE, SMS, 1, 6, False, Decision.FAIL),
        (Outcome.RETRY, WA, 1, 6, False, Decision.RETRY),
        (Outcome.RETRY, SMS, 5, 6, False, Decision.RETRY),
        (Outcome.RETRY, SMS, 6, 6, False, Decision.FAIL),  # gave up after the last attempt
        (Outcome.RETRY, TG, 0, None, False, Decision.FAIL),  # a callback is not resent
        (Outcome.PERMANENT, WA, 1, 6, False, Decision.FAIL),
        (Outcome.PERMANENT, SMS, 1, 6, False, Decision.FAIL),
    ],
)
def test_decide(
    outcome: Outcome,
    channel: Channel,
    attempts: int,
    max_attempts: int | None,
    via_template: bool,
    decision: Decision,
) -> None:
    assert (
        decide(
            outcome,
            channel,
            attempts=attempts,
            max_attempts=max_attempts,
            via_template=via_template,
        )
        is decision
    )
