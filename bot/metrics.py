"""Prometheus metrics of the bot process (GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core import metrics as core_metrics


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "vck_inbound_messages", "Inbound messages accepted", ["channel"], registry=self.registry
        )
        self.duplicates = Counter(
            "vck_inbound_duplicates",
            "Provider retries of messages already handled",
            ["channel"],
            registry=self.registry,
        )
        self.flooded = Counter(
            "vck_inbound_flooded",
            "Inbound messages over a sender's limit: slowed (one reply) or dropped",
            ["channel", "verdict"],
            registry=self.registry,
        )
        self.replies = Counter("vck_replies", "Replies sent", ["channel"], registry=self.registry)
        self.errors = Counter(
            "vck_errors", "Requests refused or failed", ["kind"], registry=self.registry
        )
        self.handling = Histogram(
            "vck_handling_seconds",
            "Time to handle one inbound message, signature to reply",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry) + generate_latest(core_metrics.REGISTRY)
