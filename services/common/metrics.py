"""Prometheus metrics shared by every stage.

All metrics take a ``registry`` so tests use a fresh :class:`CollectorRegistry`.
Labels are bounded (service, topic key, stage-defined reason/kind values) and
pre-initialised so that dashboards see zeros rather than missing series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from schemas.models import Alert, DedupedArticle, DedupVerdict, EnrichedArticle, EntityType, Severity

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
E2E_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Why a message went to the DLQ: not decodable, over a size limit, the core raised, its output could not be sent.
FAILURE_REASONS = ("decode", "too_large", "process", "send")


def _literal_values(annotation: Any) -> tuple[str, ...]:
    """The strings of a ``Literal[...]`` (possibly inside ``X | None``), in declaration order."""
    values: list[str] = []
    for arg in get_args(annotation):
        if isinstance(arg, str):
            values.append(arg)
        elif arg is not type(None):
            values.extend(_literal_values(arg))
    return tuple(values)


# The label values of the stage-specific counters come from the message contracts, so they stay bounded
# and in step with schemas/models.py.
DUPLICATE_KINDS: tuple[str, ...] = _literal_values(DedupVerdict.model_fields["kind"].annotation)
SEVERITIES: tuple[str, ...] = _literal_values(Severity)
ENTITY_TYPES: tuple[str, ...] = _literal_values(EntityType)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - only in a broken install
        return "unknown"


def service_registry() -> CollectorRegistry:
    """A worker's registry: empty of stage metrics, with the standard process and platform collectors.

    ``process_cpu_seconds_total`` and ``process_resident_memory_bytes`` are what ops size replicas with (and what
    ``rasd_processing_cpu_seconds_total`` is set against); a fresh registry, unlike the global one, lacks them.
    """
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def partition_lag(
    labels: Mapping[str, str],
    highwaters: Mapping[tuple[str, int], int],
    committed: Mapping[tuple[str, int], int | None],
    earliest: Mapping[tuple[str, int], int],
) -> dict[tuple[str, int], int]:
    """Lag per (topic label, partition): the log end offset minus the committed offset (next to read).

    ``labels`` maps topic names to their metric label; partitions of other topics (a table's changelog,
    read only for recovery) are left out.  With nothing committed yet, everything from the earliest
    retained offset is lag.
    """
    lag: dict[tuple[str, int], int] = {}
    for (topic, partition), end in highwaters.items():
        label = labels.get(topic)
        if label is None:
            continue
        done = committed.get((topic, partition))
        start = earliest.get((topic, partition), 0) if done is None else done
        lag[label, partition] = max(end - start, 0)
    return lag


class ConsumerLag(Collector):
    """``rasd_consumer_lag{service,topic,partition}``: messages not yet committed, per assigned partition.

    The worker's event loop replaces the snapshot every few seconds (:meth:`update`); the HTTP thread only
    reads it, so a scrape never touches the Kafka consumer.  Only the partitions this worker owns appear
    (partitions are bounded by the topic's partition count); a revoked partition disappears at the next
    update instead of leaving a stale value that a ``sum`` over replicas would count twice.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._snapshot: dict[tuple[str, int], int] = {}

    def update(self, lag: Mapping[tuple[str, int], int]) -> None:
        self._snapshot = dict(lag)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "rasd_consumer_lag",
            "Messages in the partition not yet committed by this service's consumer group",
            labels=["service", "topic", "partition"],
        )
        for (topic, partition), lag in sorted(self._snapshot.items()):
            family.add_metric([self.service, topic, str(partition)], lag)
        yield family


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
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}
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
        # Wall time above counts the moments the OS ran another process or thread; CPU time does not.  Against
        # process_cpu_seconds_total it gives the stage's share of the worker's CPU (the rest is Faust, aiokafka
        # and the metrics endpoint): the share that tuning the stage's code can win back.
        self.processing_cpu = Counter(
            "rasd_processing_cpu_seconds_total",
            "CPU time (of the worker's thread) the stage spends on messages, decode to encode",
            ["service"],
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
        self.duplicates = Counter(
            "rasd_duplicates_total", "Articles found to be copies, by kind (exact or near)", ["service", "kind"],
            registry=registry,
        )
        self.alerts = Counter(
            "rasd_alerts_total", "Alerts raised, by severity", ["service", "severity"], registry=registry
        )
        self.entity_mentions = Counter(
            "rasd_entity_mentions_total", "Entity mentions found, by entity type", ["service", "type"],
            registry=registry,
        )
        self.lag = ConsumerLag(service)
        registry.register(self.lag)
        self.info = Gauge(
            "rasd_build_info",
            "Rasd build information: its version, the Kafka release it is verified with, client libraries",
            ["service", "version", "kafka_version", "faust_version", "aiokafka_version"],
            registry=registry,
        )
        for topic in consumes:
            self.consumed.labels(service, topic)
        for topic in produces:
            self.produced.labels(service, topic)
        for reason in FAILURE_REASONS:
            self.errors.labels(service, reason)
            self.dead_letters.labels(service, reason)
        produced = set(produces)
        for kind in DUPLICATE_KINDS if "duplicates" in produced else ():
            self.duplicates.labels(service, kind)
        for severity in SEVERITIES if "alerts" in produced else ():
            self.alerts.labels(service, severity)
        for entity_type in ENTITY_TYPES if "enriched" in produced else ():
            self.entity_mentions.labels(service, entity_type)
        self.processing.labels(service)
        self.processing_cpu.labels(service)
        self.end_to_end.labels(service)
        from rasd import __version__
        from rasd.kafka_local import KAFKA_VERSION

        self.info.labels(
            service, __version__, KAFKA_VERSION, _package_version("faust-streaming"), _package_version("aiokafka")
        ).set(1)

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """``metric.labels(self.service, *labels)``, looked up once (``labels()`` checks and locks on every call: about
        1 us, several times per message)."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(self.service, *labels)
        return found

    def observe_outputs(self, values: Iterable[Any]) -> None:
        """Count what the stage's outputs say about the news: copies by kind, alerts by severity, entity
        mentions by type.  It reads the output models only, so no stage needs metric code of its own."""
        for value in values:
            if isinstance(value, Alert):
                self.child(self.alerts, value.severity).inc()
            elif isinstance(value, EnrichedArticle):
                types: list[str] = [e.type for e in value.entities]
                for entity_type in ENTITY_TYPES:
                    if n := types.count(entity_type):
                        self.child(self.entity_mentions, entity_type).inc(n)
            elif isinstance(value, DedupedArticle) and value.dedup.status == "duplicate" and value.dedup.kind:
                self.child(self.duplicates, value.dedup.kind).inc()
