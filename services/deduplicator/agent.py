"""The deduplicator service: ``articles.normalized`` → ``articles.unique`` | ``articles.duplicates``.

Why a sequencer.  A near-copy may land on any partition of
``articles.normalized``, and Faust tables are partitioned like the stream that
writes them, so a per-partition index would miss copies across partitions.
The ``route`` agent therefore forwards every article (its bytes, its key) to
a one-partition internal topic, and the ``decide`` agent, which owns that
partition, checks and updates the one index.  Only its per-article records
live in a changelog-backed table (two writes per decision); the buckets that
find candidates are derived from them in memory (``core.DedupIndex``).  Any
number of deduplicator workers may run: they share the normalized partitions
for routing, Kafka gives the sequence partition to one of them at a time, and
the table is recovered from its changelog on restart or failover, the buckets
rebuilt from it before the first decision.  Decisions are made in one total order, so two copies
arriving at once never point at each other and ``duplicate_of`` is always the
earliest article of its group.
"""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from services.common.metrics import StageMetrics
from services.common.settings import CommonSettings, DeduplicatorSettings
from services.common.worker import attach_route, attach_stage, make_app, make_topics

from .core import DedupConfig, DedupIndex
from .stage import DeduplicatorStage
from .stories import StoryRule


def config_from(settings: CommonSettings) -> DedupConfig:
    """The core's configuration from the service settings."""
    if not isinstance(settings, DeduplicatorSettings):
        return DedupConfig()
    return DedupConfig(
        threshold=settings.dedup_threshold,
        num_perm=settings.dedup_num_perm,
        bands=settings.dedup_bands,
        shingle=settings.dedup_shingle,
        retention_s=settings.dedup_retention_days * 24 * 3600.0,
        story=StoryRule(threshold=settings.dedup_story_threshold),
        story_window_s=settings.dedup_story_window_hours * 3600.0,
    )


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The deduplicator's Faust app: a router, a sequencer topic, the decision agent and its table."""
    app = make_app(settings, registry, worker_tag=worker_tag)
    stage_names = DeduplicatorStage.source, *DeduplicatorStage.targets
    topics = make_topics(app, settings, stage_names)
    sequence = app.topic(
        f"{app.conf.id}-sequence", key_type=bytes, value_type=bytes, partitions=1, internal=True
    )
    docs = app.Table(
        "dedup-docs", partitions=1, schema=faust.Schema(key_serializer="json", value_serializer="json")
    )
    stage = DeduplicatorStage(DedupIndex(config_from(settings), docs=docs))
    metrics = StageMetrics(registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"])

    attach_route(app, topics[stage.source], sequence, topics["dlq"], metrics, name="rasd.deduplicator.route")
    attach_stage(app, stage, sequence, topics, metrics)
    return app
