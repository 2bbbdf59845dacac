"""A stored status callback's outcome, asked of the adapter that carried it: callbacks
that arrive before the sender recorded the message id are kept as (provider, status,
error code) and applied later (core.deliveries.reconcile_early), when the parsed
:class:`~core.channels.errors.StatusUpdate` is gone."""

from __future__ import annotations

from collections.abc import Callable

from core.channels import dlt, twilio
from core.channels.base import Outcome

_STATUS_OUTCOME: dict[str, Callable[[str | None], Outcome]] = {
    twilio.PROVIDER: twilio.status_outcome,
    dlt.PROVIDER: dlt.status_outcome,
}


def status_outcome(provider: str, error_code: str | None) -> Outcome:
    """What a failed callback's code means, in the provider's adapter's own words."""
    classify = _STATUS_OUTCOME.get(provider)
    return classify(error_code) if classify is not None else Outcome.PERMANENT
