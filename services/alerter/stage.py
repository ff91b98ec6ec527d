"""The alerter stage: enriched articles in, escalation alerts out (most articles raise none)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from schemas.models import EnrichedArticle
from services.common.stage import Output

from .core import Lexicon, detect


class AlerterStage:
    """Scores each article against the escalation lexicon and emits an alert when warranted."""

    name: str = "alerter"
    source: str = "enriched"
    targets: tuple[str, ...] = ("alerts",)
    input_model: type[BaseModel] = EnrichedArticle

    def __init__(self, lexicon: Lexicon, *, emit_low: bool = False) -> None:
        self.lexicon = lexicon
        self.emit_low = emit_low

    def handle(self, message: BaseModel, *, now: float) -> Sequence[Output]:
        assert isinstance(message, EnrichedArticle)
        alert = detect(message, lexicon=self.lexicon, now=now, emit_low=self.emit_low)
        return [] if alert is None else [Output("alerts", alert.article_id, alert)]
