"""Real metrics pages for tests: the four stages run on real articles, each counted in its own registry.

The registries are the ones the services build (``StageMetrics`` plus Faust's sensor, as in
``services.common.worker.make_app``), so what the tests parse is what Prometheus scrapes.
"""

from __future__ import annotations

import importlib
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry, generate_latest

from rasd.inputs import read_articles
from rasd.offline import OfflinePipeline
from services.common.metrics import StageMetrics, service_registry
from services.common.settings import SETTINGS_BY_SERVICE
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


def require_tool(name: str) -> str:
    """The path of a Prometheus tool; a clear failure (not a skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make tools` installs it (Debian package prometheus)")
    return path


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def exported_names(data_dir: Path) -> set[str]:
    """Every series name the four services can export: their real apps are built (no broker is contacted)
    and each metric family is expanded to the sample names Prometheus stores (``_total``, ``_bucket``…)."""
    names: set[str] = set()
    for service, settings_cls in SETTINGS_BY_SERVICE.items():
        registry = service_registry()
        signing = {"webhook_secret": "metered"} if service == "webhook" else {}  # the sink will not start unsigned
        settings = settings_cls(bootstrap_servers="127.0.0.1:1", data_dir=data_dir, **signing)
        importlib.import_module(f"services.{service}.agent").build(settings, registry)
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


PROMQL_WORDS = {
    # functions, aggregations and keywords that look like identifiers in PromQL
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "rate", "irate", "increase", "delta", "deriv", "histogram_quantile",
    "clamp_min", "clamp_max", "abs", "absent", "vector", "scalar", "time", "offset", "bool", "label_replace",
    "sum_over_time", "max_over_time", "avg_over_time", "changes", "resets", "sort_desc", "sort", "round", "le",
}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers outside strings, label matchers and ranges,
    that are not PromQL words, label names in ``by (…)`` clauses, or Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # range / subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    words = set(re.findall(r"(?<![\w.])[A-Za-z_:][\w:]*(?![\w(])", text))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", w)}
