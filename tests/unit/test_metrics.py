"""The metrics every service exports: Prometheus conventions (checked by promtool), bounded labels, and
stage-specific counters that agree with what the stages actually emitted.

Why: dashboards and self-alerts are only as good as these series; a misnamed metric or a label that
never appears until the first event shows up as an empty panel on the day it matters.
"""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry

from rasd.kafka_local import KAFKA_VERSION
from schemas.codec import decode
from schemas.models import Alert, DedupedArticle, EnrichedArticle
from services.common.metrics import (
    DUPLICATE_KINDS,
    ENTITY_TYPES,
    SEVERITIES,
    ConsumerLag,
    StageMetrics,
    partition_lag,
)
from services.common.settings import SERVICES

from .metered import MeteredRun, corpus, require_tool

# Faust's own sensor names one histogram in milliseconds (faust_events_runtime_ms); promtool's lint
# flags the unit.  It is Faust's name, not ours: the check below holds every rasd_* family to the rules.
FAUST_LINT_EXCEPTIONS = ("faust_events_runtime_ms",)


def check_metrics(page: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` reads a metrics page on stdin and lints it."""
    cmd = [require_tool("promtool"), "check", "metrics"]
    return subprocess.run(cmd, input=page, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def run() -> MeteredRun:
    return MeteredRun(corpus())


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_accepts_each_service_page(run: MeteredRun, service: str) -> None:
    """``promtool check metrics`` lints the page a real scrape sees after real traffic: names, units,
    counter suffixes, HELP texts.  Only Faust's own millisecond histogram is allowed a complaint."""
    result = check_metrics(run.page(service))
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    ours = [p for p in problems if not p.startswith(FAUST_LINT_EXCEPTIONS)]
    assert not ours, f"{service}: promtool complains: {ours}"
    assert "rasd_messages_consumed_total" in run.page(service)


def test_promtool_catches_a_bad_name() -> None:
    """The check above is only worth something if promtool rejects a counter without ``_total``."""
    page = "# HELP rasd_bad Bad.\n# TYPE rasd_bad counter\nrasd_bad 1\n"
    result = check_metrics(page)
    assert result.returncode != 0 and "rasd_bad" in result.stdout + result.stderr


def test_duplicates_by_kind_match_the_verdicts(run: MeteredRun) -> None:
    """Copies are counted by kind, from the deduplicator's own output (an exact and a near copy here)."""
    verdicts = [decode(e.value, DedupedArticle).dedup for e in run.emitted["duplicates"]]
    kinds = Counter(v.kind for v in verdicts)
    assert set(kinds) == {"exact", "near"}, "the corpus should produce one copy of each kind"
    registry = run.registries["deduplicator"]
    for kind in DUPLICATE_KINDS:
        value = registry.get_sample_value("rasd_duplicates_total", {"service": "deduplicator", "kind": kind})
        assert value == kinds[kind]


def test_alerts_by_severity_match_the_alerts(run: MeteredRun) -> None:
    """Alerts are counted by severity, each alert once."""
    alerts = Counter(decode(e.value, Alert).severity for e in run.emitted["alerts"])
    assert sum(alerts.values()) >= 1
    for severity in SEVERITIES:
        value = run.registries["alerter"].get_sample_value(
            "rasd_alerts_total", {"service": "alerter", "severity": severity}
        )
        assert value == alerts[severity]


def test_entity_mentions_by_type_match_the_entities(run: MeteredRun) -> None:
    """Mentions are counted by type (PERSON/ORG/LOC), never by entity: names would be unbounded labels."""
    mentions = Counter(e.type for emit in run.emitted["enriched"] for e in decode(emit.value, EnrichedArticle).entities)
    assert mentions, "the seeds name people and places"
    for entity_type in ENTITY_TYPES:
        value = run.registries["entities"].get_sample_value(
            "rasd_entity_mentions_total", {"service": "entities", "type": entity_type}
        )
        assert value == mentions[entity_type]


@pytest.mark.parametrize("service", SERVICES)
def test_end_to_end_latency_is_observed_for_every_output(run: MeteredRun, service: str) -> None:
    """Each stage observes the time since ingest for every message it processed (the alerter included,
    though its input carries the timestamp and most articles raise no alert); dead letters are not."""
    registry = run.registries[service]
    consumed = registry.get_sample_value(
        "rasd_messages_consumed_total", {"service": service, "topic": run.sources[service]}
    )
    dead = sum(
        registry.get_sample_value("rasd_dead_letters_total", {"service": service, "reason": r}) or 0.0
        for r in ("decode", "process")
    )
    observed = registry.get_sample_value("rasd_end_to_end_seconds_count", {"service": service})
    assert consumed and observed == consumed - dead


@pytest.mark.parametrize(
    ("service", "consumes", "produces", "family", "values"),
    [
        ("deduplicator", ["normalized"], ["unique", "duplicates", "dlq"], "rasd_duplicates_total", DUPLICATE_KINDS),
        ("alerter", ["enriched"], ["alerts", "dlq"], "rasd_alerts_total", SEVERITIES),
        ("entities", ["unique"], ["enriched", "dlq"], "rasd_entity_mentions_total", ENTITY_TYPES),
    ],
)
def test_stage_counters_are_pre_initialised_where_they_belong(
    service: str, consumes: list[str], produces: list[str], family: str, values: tuple[str, ...]
) -> None:
    """A fresh service shows zeros for every label value (so ``rate`` and ratios work from the first
    scrape) — and only the service that produces those outputs carries the series."""
    registry = CollectorRegistry()
    StageMetrics(registry, service, consumes=consumes, produces=produces)
    label = {"rasd_duplicates_total": "kind", "rasd_alerts_total": "severity"}.get(family, "type")
    for value in values:
        assert registry.get_sample_value(family, {"service": service, label: value}) == 0.0
    other = CollectorRegistry()
    StageMetrics(other, "normalizer", consumes=["raw"], produces=["normalized", "dlq"])
    assert not [s for f in other.collect() if f.name + "_total" == family for s in f.samples]


def test_label_values_come_from_the_contracts() -> None:
    """Kinds, severities and entity types are read from schemas/models.py, not retyped."""
    assert set(DUPLICATE_KINDS) == {"exact", "near"}
    assert set(SEVERITIES) == {"high", "medium", "low"}
    assert set(ENTITY_TYPES) == {"PERSON", "ORG", "LOC"}


def test_build_info_names_the_kafka_version() -> None:
    """Operators compare the running build with the broker: the pinned Kafka release is a label."""
    registry = CollectorRegistry()
    StageMetrics(registry, "normalizer", consumes=["raw"], produces=["normalized", "dlq"])
    family = next(f for f in registry.collect() if f.name == "rasd_build_info")
    [sample] = family.samples
    assert sample.labels["kafka_version"] == KAFKA_VERSION and sample.value == 1.0
    assert sample.labels["faust_version"] and sample.labels["aiokafka_version"]


@pytest.mark.parametrize(
    ("highwaters", "committed", "earliest", "expected"),
    [
        # committed offsets are the next offset to read: lag is end minus committed
        ({("t.raw", 0): 10, ("t.raw", 1): 4}, {("t.raw", 0): 7, ("t.raw", 1): 4}, {}, {("raw", 0): 3, ("raw", 1): 0}),
        # nothing committed yet: everything since the earliest retained offset is behind
        ({("t.raw", 2): 50}, {("t.raw", 2): None}, {("t.raw", 2): 20}, {("raw", 2): 30}),
        # a table's changelog (recovery only) is not a topic the stage consumes: left out
        ({("app-docs-changelog", 0): 99, ("t.raw", 0): 1}, {("t.raw", 0): 1}, {}, {("raw", 0): 0}),
        # a commit ahead of a stale highwater never gives negative lag
        ({("t.raw", 0): 5}, {("t.raw", 0): 6}, {}, {("raw", 0): 0}),
    ],
)
def test_partition_lag(
    highwaters: dict[tuple[str, int], int],
    committed: dict[tuple[str, int], int | None],
    earliest: dict[tuple[str, int], int],
    expected: dict[tuple[str, int], int],
) -> None:
    """Lag per partition from the consumer's positions, labelled by topic key."""
    assert partition_lag({"t.raw": "raw"}, highwaters, committed, earliest) == expected


def test_lag_gauge_forgets_revoked_partitions() -> None:
    """After a rebalance a replica must stop reporting partitions it lost, or sums double-count them."""
    registry = CollectorRegistry()
    lag = ConsumerLag("entities")
    registry.register(lag)

    def sample(partition: str) -> float | None:
        labels = {"service": "entities", "topic": "unique", "partition": partition}
        return registry.get_sample_value("rasd_consumer_lag", labels)

    lag.update({("unique", 0): 5, ("unique", 1): 2})
    assert sample("1") == 2
    lag.update({("unique", 0): 4})
    assert sample("1") is None
    assert sample("0") == 4
