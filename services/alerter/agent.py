"""The alerter service: ``articles.enriched`` → ``alerts``, one alert per story.

Why no re-keying step.  The deduplicator keys ``articles.unique`` by story id and the entities service
keeps that key on ``articles.enriched`` (same partition count), so every article of a story is on one
partition of the alerter's input, in order.  The story state (highest severity alerted, latest alert
id, places and death toll alerted) lives in the changelog-backed table ``alert-stories`` keyed by story
id and partitioned like ``articles.enriched``: the worker that owns a partition owns its stories' decisions.
Any number of alerter workers may run; the table is recovered from its changelog on restart or rebalance.
(Until 2026-12-07 the input was keyed by article id and a ``route`` agent re-keyed every article onto an
internal ``<app id>-by-story`` topic: one more Kafka hop per article.)
"""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry, Counter

from services.common.metrics import StageMetrics
from services.common.settings import AlerterSettings, CommonSettings
from services.common.worker import attach_stage, make_app, make_topics

from .core import ACTIONS, DISAGREEMENTS, Lexicon, StoryDecision
from .stage import AlerterStage


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The alerter's Faust app; the lexicon is loaded once here, at start-up."""
    emit_low = isinstance(settings, AlerterSettings) and settings.alert_emit_low
    app = make_app(settings, registry, worker_tag=worker_tag)
    topics = make_topics(app, settings, (AlerterStage.source, *AlerterStage.targets))
    stories = app.Table(
        "alert-stories",
        partitions=settings.partitions,
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
    )
    decisions = Counter(
        "rasd_alert_decisions_total", "Story decisions on detected alerts", ["action"], registry=registry
    )
    for action in ACTIONS:
        decisions.labels(action)
    disagreements = Counter(
        "rasd_alert_story_place_disagreements_total",
        "Articles sent as a new alert although grouped into a story, because they share no place with the"
        " story's alerts (disjoint) or either side names none (unplaced)",
        ["reason"],
        registry=registry,
    )
    for reason in DISAGREEMENTS:
        disagreements.labels(reason)

    def count(decision: StoryDecision) -> None:
        decisions.labels(decision.action).inc()
        if decision.disagreement is not None:
            disagreements.labels(decision.disagreement).inc()

    stage = AlerterStage(Lexicon.load(), emit_low=emit_low, stories=stories, on_decision=count)
    metrics = StageMetrics(registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"])

    attach_stage(app, stage, topics[stage.source], topics, metrics)
    return app
