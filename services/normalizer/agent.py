"""The normalizer service: ``articles.raw`` → ``articles.normalized`` (bad input → ``articles.dlq``)."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from services.common.settings import CommonSettings
from services.common.worker import build_stage_app

from .stage import NormalizerStage


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The normalizer's Faust app: every article on one partition of ``articles.normalized`` (the deduplicator's
    one order, ``services/deduplicator/agent.py``), keyed by its id."""
    stage = NormalizerStage()
    return build_stage_app(settings, registry, stage, worker_tag=worker_tag, ordered_targets=("normalized",))
