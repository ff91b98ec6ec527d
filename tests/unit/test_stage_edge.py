"""The edge every agent uses: bytes in, core called, bytes out, failures to the DLQ, all counted.

Why: "nothing lost" and "an agent never dies on bad input" are decided here,
so they are tested here without Kafka (the integration test shows the same on
the broker).
"""

from __future__ import annotations

import base64
import time

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from schemas.codec import decode, encode
from schemas.models import DeadLetter, DedupedArticle, NormalizedArticle
from services.common.metrics import StageMetrics, service_registry
from services.common.stage import Output, process_message
from services.deduplicator.core import DedupConfig, DedupIndex
from services.deduplicator.stage import DeduplicatorStage
from services.normalizer.textforms import matching_form

TEXT = "عنوان الخبر\nأعلنت الحكومة اليوم عن خطة جديدة لدعم المزارعين في المناطق الريفية خلال العام المقبل."


def normalized(article_id: str = "a1") -> NormalizedArticle:
    return NormalizedArticle(
        id=article_id, title="عنوان الخبر", language="ar", text=TEXT, match_text=matching_form(TEXT),
        ingested_at=1000.0,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def stage() -> DeduplicatorStage:
    return DeduplicatorStage(DedupIndex(DedupConfig()))


@pytest.fixture
def metrics(registry: CollectorRegistry) -> StageMetrics:
    return StageMetrics(registry, "deduplicator", consumes=["normalized"], produces=["unique", "duplicates", "dlq"])


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_valid_message_is_processed_encoded_and_counted(
    stage: DeduplicatorStage, metrics: StageMetrics, registry: CollectorRegistry
) -> None:
    [emit] = process_message(stage, encode(normalized()), now=1001.0, topic="t", metrics=metrics)
    assert emit.topic == "unique" and emit.key == b"a1"
    assert decode(emit.value, DedupedArticle).dedup.status == "unique"
    assert sample(registry, "rasd_messages_consumed_total", service="deduplicator", topic="normalized") == 1
    assert sample(registry, "rasd_messages_produced_total", service="deduplicator", topic="unique") == 1
    assert sample(registry, "rasd_processing_seconds_count", service="deduplicator") == 1
    assert sample(registry, "rasd_end_to_end_seconds_count", service="deduplicator") == 1


@pytest.mark.parametrize(
    ("raw", "reason_text"),
    [
        (b"not json at all", "not valid JSON"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b'{"id": "x"}', "invalid NormalizedArticle"),
        (None, "empty message"),
    ],
)
def test_undecodable_message_becomes_a_dead_letter_with_its_original_bytes(
    stage: DeduplicatorStage, metrics: StageMetrics, registry: CollectorRegistry, raw: bytes | None, reason_text: str
) -> None:
    [emit] = process_message(
        stage, raw, now=5.0, topic="articles.normalized", key=b"k", partition=2, offset=7, metrics=metrics
    )
    assert emit.topic == "dlq"
    letter = decode(emit.value, DeadLetter)
    assert base64.b64decode(letter.original_b64) == (raw or b"")
    assert reason_text in letter.error
    assert (letter.stage, letter.topic, letter.partition, letter.offset, letter.key, letter.timestamp) == (
        "deduplicator", "articles.normalized", 2, 7, "k", 5.0
    )
    assert sample(registry, "rasd_dead_letters_total", service="deduplicator", reason="decode") == 1
    assert sample(registry, "rasd_errors_total", service="deduplicator", reason="decode") == 1


def test_a_failing_core_dead_letters_instead_of_raising(metrics: StageMetrics, registry: CollectorRegistry) -> None:
    """A bug in a core must not kill the agent: the message is parked with the exception as its reason."""

    class BrokenIndex(DedupIndex):
        def check(self, article: NormalizedArticle, *, now: float) -> object:  # type: ignore[override]
            raise RuntimeError("index unavailable")

    broken = DeduplicatorStage(BrokenIndex(DedupConfig()))
    [emit] = process_message(broken, encode(normalized()), now=1.0, topic="t", metrics=metrics)
    assert emit.topic == "dlq"
    assert decode(emit.value, DeadLetter).error == "RuntimeError: index unavailable"
    assert sample(registry, "rasd_dead_letters_total", service="deduplicator", reason="process") == 1


def test_labels_are_pre_initialised(registry: CollectorRegistry, metrics: StageMetrics) -> None:
    """Dashboards see zeros, not missing series, before the first message or failure."""
    assert registry.get_sample_value(
        "rasd_messages_produced_total", {"service": "deduplicator", "topic": "duplicates"}
    ) == 0
    assert registry.get_sample_value("rasd_dead_letters_total", {"service": "deduplicator", "reason": "process"}) == 0


def test_stage_cpu_time_is_counted_apart_from_wall_time(metrics: StageMetrics, registry: CollectorRegistry) -> None:
    """Ops size replicas on the CPU a stage costs: wall time also counts the moments the OS ran something else
    (here a sleep), CPU time only the worker thread's own work."""

    class SpinThenSleep(DeduplicatorStage):
        def handle(self, message: BaseModel, *, now: float) -> list[Output]:
            spin_until = time.thread_time() + 0.03
            while time.thread_time() < spin_until:
                pass
            time.sleep(0.05)
            return []

    assert process_message(SpinThenSleep(DedupIndex(DedupConfig())), encode(normalized()), now=1.0, topic="t",
                           metrics=metrics) == []
    cpu = sample(registry, "rasd_processing_cpu_seconds_total", service="deduplicator")
    wall = sample(registry, "rasd_processing_seconds_sum", service="deduplicator")
    assert 0.03 <= cpu < 0.05 + 0.03 <= wall


def test_cpu_counter_is_pre_initialised(registry: CollectorRegistry, metrics: StageMetrics) -> None:
    """A rate() over the CPU counter needs the series before the first message."""
    assert registry.get_sample_value("rasd_processing_cpu_seconds_total", {"service": "deduplicator"}) == 0


def test_service_registry_exports_the_process_metrics() -> None:
    """Per-replica CPU and memory come from the standard process collector, which a fresh registry lacks."""
    registry = service_registry()
    assert (registry.get_sample_value("process_cpu_seconds_total") or 0.0) > 0.0
    assert (registry.get_sample_value("process_resident_memory_bytes") or 0.0) > 0.0
