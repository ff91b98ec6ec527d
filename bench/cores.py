"""Each stage alone, no Kafka: articles per second of CPU on one core, on the generated articles.

Every stage is timed through :func:`services.common.stage.process_message` (decode → core →
encode, metrics counted) — exactly the work its agent does per message — on the messages that
stage really receives (the outputs of the previous stages for the same articles, made once
beforehand by the offline pipeline).  The deduplicator starts from an empty index and indexes
every article, as in the stream.  Speed is ``messages / CPU seconds`` of this (single-threaded)
process (``time.process_time``), which other processes on the machine disturb far less than the
wall clock; the wall-clock figure is reported next to it.

``edge_us_per_message`` is the part of that spent on the contract alone: decoding the input into its
pydantic model and encoding what the stage emits (schemas/codec.py), the work any stage pays at its edges.
``logic_per_s_cpu`` is the stage's logic alone: ``Stage.handle`` on the already decoded messages, with no
codec and no metrics — the core the issue's "each stage core alone" names; ``per_s_cpu`` (and ``meets_2000``)
is the stricter figure, the agent's whole work per message.

With the Arabic tagger on (``RASD_ENTITIES_TAGGER``, the default) the entities stage is also timed with the rules
alone in the same run (``entities.rules_only``) and ``per_s_vs_rules_only`` is the ratio of the two whole-message
rates (issue 15 asks at least 1/8).

``python -m bench.cores [N]`` prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from rasd.offline import OfflinePipeline
from schemas.codec import decode, encode
from schemas.models import TOPIC_MODELS
from services.common.metrics import StageMetrics
from services.common.stage import Emit, Stage, process_message
from services.deduplicator.core import DedupConfig, DedupIndex
from services.deduplicator.stage import DeduplicatorStage
from services.entities.stage import EntitiesStage

from .articles import generate

TARGET = 2000.0


def stage_inputs(raws: list[bytes]) -> dict[str, list[Emit]]:
    """The messages each stage's topic receives for ``raws`` (topic field → emits), from one offline run."""
    pipeline = OfflinePipeline()
    inputs: dict[str, list[Emit]] = {"raw": [Emit("raw", b"", r) for r in raws]}
    for raw in raws:
        for topic, emits in pipeline.run(raw).items():
            if topic != "raw":
                inputs.setdefault(topic, []).extend(emits)
    return inputs


def time_stage(stage: Stage, messages: list[Emit], rounds: int = 1) -> dict[str, float]:
    """Run ``stage`` over ``messages`` through the edge; best-of-``rounds`` CPU time."""
    registry = CollectorRegistry()
    metrics = StageMetrics(registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"])
    best_cpu = best_wall = float("inf")
    emitted: list[Emit] = []
    for _ in range(rounds):
        gc.collect()
        emitted = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for m in messages:
            emitted += process_message(stage, m.value, now=time.time(), topic=stage.source, key=m.key,
                                       metrics=metrics)
        best_cpu = min(best_cpu, time.process_time() - cpu0)
        best_wall = min(best_wall, time.perf_counter() - wall0)
    n = len(messages)
    return {
        "edge_us_per_message": round(time_edge(stage, messages, emitted) / max(n, 1) * 1e6, 1),
        "messages": n,
        "per_s_cpu": round(n / best_cpu, 1),
        "per_s_wall": round(n / best_wall, 1),
        "us_per_message": round(best_cpu / n * 1e6, 1),
        "mean_input_bytes": round(sum(len(m.value) for m in messages) / max(n, 1)),
    }


def time_logic(make_stage: Callable[[], Stage], messages: list[Emit], rounds: int = 1) -> float:
    """Best-of-``rounds`` CPU seconds of ``handle`` alone over ``messages`` decoded beforehand (a stage from
    ``make_stage`` per round: the deduplicator must start each round from an empty index)."""
    model = make_stage().input_model
    decoded = [decode(m.value, model) for m in messages]
    now = time.time()
    best = float("inf")
    for _ in range(rounds):
        stage = make_stage()
        gc.collect()
        cpu0 = time.process_time()
        for message in decoded:
            stage.handle(message, now=now)
        best = min(best, time.process_time() - cpu0)
    return best


def time_edge(stage: Stage, messages: list[Emit], emitted: list[Emit]) -> float:
    """CPU seconds to decode ``messages`` into the stage's input model and to encode its ``emitted`` outputs."""
    outputs = [decode(e.value, TOPIC_MODELS[e.topic]) for e in emitted]
    best = float("inf")
    for _ in range(2):
        gc.collect()
        cpu0 = time.process_time()
        for m in messages:
            decode(m.value, stage.input_model)
        for model in outputs:
            encode(model)
        best = min(best, time.process_time() - cpu0)
    return best


def measure(n: int = 2000, raws: list[bytes] | None = None) -> dict[str, Any]:
    """Core speed of the four stages on ``n`` generated articles."""
    raws = raws if raws is not None else generate(n)
    inputs = stage_inputs(raws)
    pipeline = OfflinePipeline()
    results: dict[str, Any] = {}
    for topic, stage in pipeline.stages.items():
        make_stage = stage_factory(stage)
        if isinstance(stage, DeduplicatorStage):  # every round indexes the same articles from an empty index
            results[stage.name] = max((time_stage(make_stage(), inputs[topic]) for _ in range(2)),
                                      key=lambda t: t["per_s_cpu"])
        else:
            results[stage.name] = time_stage(stage, inputs[topic], rounds=2)
        result = results[stage.name]
        result["meets_2000"] = result["per_s_cpu"] >= TARGET
        logic_s = time_logic(make_stage, inputs[topic], rounds=2)
        result["logic_per_s_cpu"] = round(len(inputs[topic]) / logic_s, 1)
        result["logic_us_per_message"] = round(logic_s / max(len(inputs[topic]), 1) * 1e6, 1)
        if isinstance(stage, EntitiesStage) and stage.tagger is not None:
            # The same stage with the rules alone (RASD_ENTITIES_TAGGER=false), timed in the same run.
            rules_stage = EntitiesStage(stage.gazetteer, None)
            rules = time_stage(rules_stage, inputs[topic], rounds=2)
            rules_logic_s = time_logic(stage_factory(rules_stage), inputs[topic], rounds=2)
            rules["logic_per_s_cpu"] = round(len(inputs[topic]) / rules_logic_s, 1)
            result["rules_only"] = rules
            result["per_s_vs_rules_only"] = round(result["per_s_cpu"] / rules["per_s_cpu"], 3)
    return results


def stage_factory(stage: Stage) -> Callable[[], Stage]:
    """A stage to time per round: the same one (its caches warm, as in a running worker), but a deduplicator
    with an empty index each time (a filled one would find every article already indexed)."""
    if isinstance(stage, DeduplicatorStage):
        return lambda: DeduplicatorStage(DedupIndex(DedupConfig()))
    return lambda: stage


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000), indent=2))
