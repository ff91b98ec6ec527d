"""The entities service: ``articles.unique`` → ``articles.enriched``."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from services.common.settings import CommonSettings
from services.common.worker import build_stage_app

from .gazetteer import Gazetteer
from .stage import EntitiesStage
from .tagger import Tagger


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The entities service's Faust app; the gazetteer and the Arabic tagger (unless ``RASD_ENTITIES_TAGGER`` is
    false) are loaded once here, at start-up."""
    gazetteer = Gazetteer.load()
    tagger = Tagger(gazetteer) if getattr(settings, "entities_tagger", True) else None
    return build_stage_app(settings, registry, EntitiesStage(gazetteer, tagger), worker_tag=worker_tag)
