"""The alerter service: ``articles.enriched`` → ``alerts``."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from services.common.settings import AlerterSettings, CommonSettings
from services.common.worker import build_stage_app

from .core import Lexicon
from .stage import AlerterStage


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The alerter's Faust app; the lexicon is loaded once here, at start-up."""
    emit_low = isinstance(settings, AlerterSettings) and settings.alert_emit_low
    return build_stage_app(settings, registry, AlerterStage(Lexicon.load(), emit_low=emit_low), worker_tag=worker_tag)
