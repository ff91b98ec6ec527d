"""The entities service: ``articles.unique`` → ``articles.enriched``."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from services.common.settings import CommonSettings
from services.common.worker import build_stage_app

from .core import Gazetteer
from .stage import EntitiesStage


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The entities service's Faust app; the gazetteer is loaded once here, at start-up."""
    return build_stage_app(settings, registry, EntitiesStage(Gazetteer.load()), worker_tag=worker_tag)
