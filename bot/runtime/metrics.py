"""What Paperboy counts for Prometheus: posts, polls, command times, and two gauges read at scrape time.

Every `Metrics` has its own registry (never prometheus-client's global one), so two cores in
one process, as in the tests, count apart. `bot.runtime.health` serves it at ``GET /metrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

COMMAND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: Slack wants an answer within 3 s, and Paperboy answers after PAPERBOY_ANSWER_TIMEOUT (2.5 s)."""


class Metrics:
    """The counters of one Paperboy core, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.posts_sent = Counter("paperboy_posts_sent", "Posts (and edits) a platform accepted.",
                                  ["platform"], registry=registry)
        self.posts_failed = Counter("paperboy_posts_failed", "Sends a platform did not accept, by the kind of "
                                    "failure (rate_limited, transient, permanent).", ["platform", "reason"],
                                    registry=registry)
        self.polls = Counter("paperboy_polls", "Poll cycles run.", registry=registry)
        self.poll_errors = Counter("paperboy_poll_errors", "Poll cycles that failed, in part or whole.",
                                   registry=registry)
        self.outbox_pending = Gauge("paperboy_outbox_pending", "Outbox entries waiting to be sent (or in flight).",
                                    registry=registry)
        self.channels_paused = Gauge("paperboy_channels_paused", "Channels whose posts are paused.",
                                     registry=registry)
        self.command_seconds = Histogram("paperboy_command_seconds", "Time to answer a command.", ["platform"],
                                         buckets=COMMAND_BUCKETS, registry=registry)

    def exposition(self) -> bytes:
        """Everything in the Prometheus text format."""
        return generate_latest(self.registry)
