"""The hostile corpus through the stage edge, no broker: every case ends as its line says.

Why: "every hostile message is accounted for" is decided at the edge (process_message): each message is
either processed or exactly one dead letter with its reason, its original bytes (or, when even the letter
would be too large, their first bytes and the whole's SHA-256), counted under that reason, and no letter
or output is larger than the producer accepts.  tests/integration/test_hostile_input.py shows the same on
the real broker.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from prometheus_client import CollectorRegistry

from schemas.codec import decode
from schemas.models import DeadLetter
from services.common.metrics import StageMetrics
from services.common.stage import DEFAULT_LIMITS, Stage, message_size, process_message, reason_of
from services.deduplicator.core import DedupConfig, DedupIndex
from services.deduplicator.stage import DeduplicatorStage
from services.normalizer.stage import NormalizerStage
from tests.hostile import REASONS, Case, load

CASES = load()


def stage_for(case: Case) -> Stage:
    return NormalizerStage() if case.topic == "raw" else DeduplicatorStage(DedupIndex(DedupConfig()))


def test_the_corpus_covers_the_issue_s_hostile_kinds() -> None:
    names = {c.name for c in CASES}
    assert {"invalid-utf8-prefix", "empty", "tombstone", "json-list", "json-number", "missing-body", "body-number",
            "nested-arrays-10000", "lone-high-surrogate", "title-300k-ascii", "body-100k-tokens"} <= names
    assert {c.expect for c in CASES} == {"processed", "decode", "too_large", "process"}
    assert len(names) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_message_is_processed_or_one_dead_letter_with_its_reason(case: Case) -> None:
    stage = stage_for(case)
    registry = CollectorRegistry()
    metrics = StageMetrics(registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"])
    emits = process_message(stage, case.value, now=1.0e9, topic=f"articles.{case.topic}", key=case.key, partition=0,
                            offset=3, metrics=metrics)
    assert emits, "nothing emitted: the message would be lost"
    for emit in emits:
        assert message_size(emit.key, emit.value) <= DEFAULT_LIMITS.message_bytes
    if case.expect == "processed":
        assert all(e.topic != "dlq" for e in emits), decode(emits[0].value, DeadLetter).error
        return
    [emit] = emits
    assert emit.topic == "dlq"
    letter = decode(emit.value, DeadLetter)
    assert reason_of(letter.error) == case.expect, letter.error
    assert (letter.stage, letter.topic, letter.partition, letter.offset) == (stage.name, f"articles.{case.topic}", 0, 3)
    original = base64.b64decode(letter.original_b64)
    raw = case.value or b""
    if original != raw:  # too large to carry whole: its first bytes, and the whole's digest in the error
        assert raw.startswith(original) and len(original) > 600_000
        assert hashlib.sha256(raw).hexdigest() in letter.error
    for reason in REASONS:
        expected = 1.0 if reason == case.expect else 0.0
        labels = {"service": stage.name, "reason": reason}
        assert registry.get_sample_value("rasd_dead_letters_total", labels) == expected
        assert registry.get_sample_value("rasd_errors_total", labels) == expected
