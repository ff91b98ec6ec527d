"""Prometheus metrics shared by every stage.

All metrics take a ``registry`` so tests use a fresh :class:`CollectorRegistry`.
Labels are bounded (service, topic key, stage-defined reason/kind values) and
pre-initialised so that dashboards see zeros rather than missing series.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
E2E_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
FAILURE_REASONS = ("decode", "process")


class StageMetrics:
    """The metrics one service exports about its stage."""

    def __init__(
        self,
        registry: CollectorRegistry,
        service: str,
        *,
        consumes: Iterable[str],
        produces: Iterable[str],
    ) -> None:
        self.service = service
        self.consumed = Counter(
            "rasd_messages_consumed_total", "Messages consumed, per topic", ["service", "topic"], registry=registry
        )
        self.produced = Counter(
            "rasd_messages_produced_total", "Messages produced, per topic", ["service", "topic"], registry=registry
        )
        self.processing = Histogram(
            "rasd_processing_seconds",
            "Time the stage's core spends on one message (decode to encode)",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.end_to_end = Histogram(
            "rasd_end_to_end_seconds",
            "Time from the normalizer first seeing an article to this stage's output",
            ["service"],
            buckets=E2E_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "rasd_errors_total", "Messages the stage failed to process, by reason", ["service", "reason"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "rasd_dead_letters_total", "Messages sent to the dead-letter topic, by reason", ["service", "reason"],
            registry=registry,
        )
        self.info = Gauge("rasd_build_info", "Rasd build information", ["service", "version"], registry=registry)
        for topic in consumes:
            self.consumed.labels(service, topic)
        for topic in produces:
            self.produced.labels(service, topic)
        for reason in FAILURE_REASONS:
            self.errors.labels(service, reason)
            self.dead_letters.labels(service, reason)
        self.processing.labels(service)
        self.end_to_end.labels(service)
        from rasd import __version__

        self.info.labels(service, __version__).set(1)
