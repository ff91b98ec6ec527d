"""Real metrics pages for tests: the four stages run on real articles, each counted in its own registry.

The registries are the ones the services build (``StageMetrics`` plus Faust's sensor, as in
``services.common.worker.make_app``), so what the tests parse is what Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import orjson
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry, generate_latest

from rasd.inputs import read_articles
from rasd.offline import OfflinePipeline
from services.common.metrics import StageMetrics
from services.common.stage import Emit, process_message

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
NEAR_COPY = ROOT / "tests" / "data" / "near_copy_of_002.txt"
MALFORMED = b'{"title": "no body here", "url": 42'


def corpus() -> list[bytes]:
    """The seeds, an exact copy of the first under another id, a near copy, and a malformed message."""
    seeds = list(read_articles(SEEDS))
    exact = orjson.loads(seeds[0])
    exact["id"] = "exact-copy-of-seed-0"
    return [*seeds, orjson.dumps(exact), *read_articles([NEAR_COPY]), MALFORMED]


class MeteredRun:
    """Every stage's registry and everything each stage emitted, by topic key."""

    def __init__(self, raws: list[bytes]) -> None:
        pipeline = OfflinePipeline()
        self.registries: dict[str, CollectorRegistry] = {}
        self.metrics: dict[str, StageMetrics] = {}
        self.sources: dict[str, str] = {}
        for stage in pipeline.stages.values():
            registry = CollectorRegistry()
            FaustMetrics.create(registry, "faust")
            self.registries[stage.name] = registry
            self.sources[stage.name] = stage.source
            self.metrics[stage.name] = StageMetrics(
                registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"]
            )
        self.emitted: dict[str, list[Emit]] = defaultdict(list)
        self.by_service: dict[str, list[Emit]] = defaultdict(list)
        now = time.time()
        pending = [Emit("raw", b"", raw) for raw in raws]
        while pending:
            emit = pending.pop(0)
            self.emitted[emit.topic].append(emit)
            stage = pipeline.stages.get(emit.topic)
            if stage is None:
                continue
            out = process_message(
                stage, emit.value, now=now, topic=emit.topic, key=emit.key, metrics=self.metrics[stage.name]
            )
            self.by_service[stage.name].extend(out)
            pending.extend(out)

    def page(self, service: str) -> str:
        """The service's /metrics page, as the HTTP endpoint serves it."""
        return generate_latest(self.registries[service]).decode()
