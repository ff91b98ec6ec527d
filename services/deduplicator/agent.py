"""The deduplicator service: ``articles.normalized`` → ``articles.unique`` | ``articles.duplicates``.

One order, no re-keying hop.  A near-copy may be published on any partition of ``articles.raw``, and Faust
tables are partitioned like the stream that writes them, so a per-partition index would miss copies across
partitions.  The normalizer therefore writes every article to one partition of ``articles.normalized``
(:data:`services.common.worker.ORDERED_PARTITION`, keys unchanged), and the worker that owns that partition
checks and updates the one index in that partition's order.  Only its per-article records live in a
changelog-backed table (two writes per decision), partitioned like ``articles.normalized`` so that Kafka hands
the ordered partition and its changelog partition to the same worker; the buckets that find candidates are
derived from the records in memory (``core.DedupIndex``).  Any number of deduplicator workers may run: Kafka
gives the ordered partition to one of them at a time, and the table is recovered from its changelog on restart
or failover, the buckets rebuilt from it before the first decision.  Decisions are made in one total order, so
two copies arriving at once never point at each other and ``duplicate_of`` is always the earliest article of
its group.

An article found on another partition (written by a normalizer from before this layout, or by another
producer) is forwarded to the ordered partition and decided there in its turn: an upgrade needs no drain.

Until 2026-12-08 a ``route`` agent copied every article to a one-partition ``<app id>-sequence`` topic, a full
Kafka hop per article (docs/performance.md, issue 18).  The table's changelog then had one partition; :func:`prepare`
grows it to the partitions of ``articles.normalized`` before the worker starts (partition 0 keeps every record, so
the index is recovered as it was).
"""

from __future__ import annotations

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from prometheus_client import CollectorRegistry

from services.common.metrics import StageMetrics
from services.common.security import ConfigError, kafka_auth
from services.common.settings import CommonSettings, DeduplicatorSettings
from services.common.worker import OnePartition, attach_stage, make_app, make_topics

from .core import DedupConfig, DedupIndex
from .stage import DeduplicatorStage
from .stories import StoryRule

TABLE = "dedup-docs"


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


def changelog_topic(settings: CommonSettings) -> str:
    """The index table's changelog topic (Faust names it ``<app id>-<table>-changelog``)."""
    return f"{settings.app_id}-{TABLE}-changelog"


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The deduplicator's Faust app: the decision agent on ``articles.normalized`` and its table."""
    app = make_app(settings, registry, worker_tag=worker_tag)
    stage_names = DeduplicatorStage.source, *DeduplicatorStage.targets
    topics = make_topics(app, settings, stage_names)
    # Records as their orjson bytes (decoded when a decision reads one): ~1 KB of worker memory per indexed article
    # instead of ~2.2 KB as Python dicts (docs/performance.md, "Compact buckets and records").  A changelog written
    # with the JSON serializer reads back as the same JSON bytes, and these bytes are JSON: upgrade and rollback
    # read each other's records.
    docs = app.Table(
        TABLE, partitions=settings.partitions, schema=faust.Schema(key_serializer="json", value_serializer="raw")
    )
    stage = DeduplicatorStage(DedupIndex(config_from(settings), docs=docs, records="bytes"))
    metrics = StageMetrics(registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"])
    source = topics[stage.source]
    attach_stage(app, stage, source, topics, metrics, ordered=OnePartition(source))
    return app


async def prepare(settings: CommonSettings) -> None:
    """Before the worker starts: the table's changelog must have as many partitions as ``articles.normalized``.

    Faust refuses a table write whose source and changelog partitions differ, and a worker would wait for a
    changelog partition that does not exist.  A changelog made by the one-partition layout is grown (its
    partition 0, where every record is, stays as it was); ``articles.normalized`` with other partitions than
    ``RASD_PARTITIONS`` is a configuration error, said in one line.
    """
    auth = kafka_auth(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **auth)
    await admin.start()
    try:
        normalized, changelog = settings.topics.normalized, changelog_topic(settings)
        # Every topic's metadata: asking for the two by name would create them on a broker that auto-creates topics.
        found = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()
                 if t["topic"] in (normalized, changelog) and t.get("error_code", 0) == 0}
        if found.get(normalized, settings.partitions) != settings.partitions:
            raise ConfigError(f"{normalized} has {found[normalized]} partitions but RASD_PARTITIONS is "
                              f"{settings.partitions}: the deduplicator's table must be partitioned like it")
        if 0 < found.get(changelog, 0) < settings.partitions:
            await admin.create_partitions({changelog: NewPartitions(total_count=settings.partitions)})
    finally:
        await admin.close()
