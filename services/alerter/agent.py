"""The alerter service: ``articles.enriched`` → ``alerts``, one alert per story.

Why a re-keying step.  Articles of one story may sit on different partitions of
``articles.enriched`` (it is keyed by article id), and a Faust table is
partitioned like the stream that writes it.  The ``route`` agent therefore
forwards every enriched article, unchanged, to an internal topic
``<app id>-by-story`` keyed by its story id (same partition count); the
deciding agent consumes that topic, so every article of a story reaches the
worker that owns the story's partition, in order, and the story state (highest
severity alerted, latest alert id, places and death toll alerted) lives in the
changelog-backed table ``alert-stories`` keyed by story id.  Any number of alerter workers may run;
the table is recovered from its changelog on restart or rebalance.
"""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry, Counter

from services.common.metrics import StageMetrics
from services.common.settings import AlerterSettings, CommonSettings
from services.common.worker import attach_route, attach_stage, make_app, make_topics

from .core import ACTIONS, DISAGREEMENTS, Lexicon, StoryDecision
from .stage import AlerterStage, story_key


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The alerter's Faust app; the lexicon is loaded once here, at start-up."""
    emit_low = isinstance(settings, AlerterSettings) and settings.alert_emit_low
    app = make_app(settings, registry, worker_tag=worker_tag)
    topics = make_topics(app, settings, (AlerterStage.source, *AlerterStage.targets))
    by_story = app.topic(
        f"{app.conf.id}-by-story", key_type=bytes, value_type=bytes, partitions=settings.partitions, internal=True
    )
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

    attach_route(app, topics[stage.source], by_story, topics["dlq"], metrics, name="rasd.alerter.route",
                 key_of=story_key)
    attach_stage(app, stage, by_story, topics, metrics)
    return app
