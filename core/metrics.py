"""Counters kept by core services themselves (the bot's /metrics shows them beside its
own): alerts that a service raises, whichever process it runs in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry()

OTP_REFUSALS = Counter(
    "vck_otp_refusals",
    "OTP requests refused, by reason (ceiling: the day's ceiling for all codes was reached)",
    ["reason"],
    registry=REGISTRY,
)
