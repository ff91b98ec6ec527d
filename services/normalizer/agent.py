"""The normalizer service: ``articles.raw`` → ``articles.normalized`` (bad input → ``articles.dlq``)."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from services.common.settings import CommonSettings
from services.common.worker import build_stage_app

from .stage import NormalizerStage


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The normalizer's Faust app."""
    return build_stage_app(settings, registry, NormalizerStage(), worker_tag=worker_tag)
