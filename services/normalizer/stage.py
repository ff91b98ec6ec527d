"""The normalizer seen as a pipeline stage: raw article in, normalized article out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel

from schemas.models import RawArticle
from services.common.stage import Output

from .core import normalize


class NormalizerStage:
    """Cleans a raw article into display and matching forms (see :mod:`.core`)."""

    name: str = "normalizer"
    source: str = "raw"
    targets: tuple[str, ...] = ("normalized",)
    input_model: type[BaseModel] = RawArticle

    def handle(self, message: BaseModel, *, now: float) -> Sequence[Output]:
        assert isinstance(message, RawArticle)
        article = normalize(message, now=datetime.fromtimestamp(now, UTC))
        return [Output("normalized", article.id, article)]
