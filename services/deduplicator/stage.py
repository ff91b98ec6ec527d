"""The deduplicator seen as a pipeline stage: unique articles go on, copies go aside."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from schemas.models import DedupedArticle, NormalizedArticle
from services.common.stage import Output

from .core import DedupIndex


class DeduplicatorStage:
    """Routes each article to ``unique`` or ``duplicates`` with the index's verdict."""

    name: str = "deduplicator"
    source: str = "normalized"
    targets: tuple[str, ...] = ("unique", "duplicates")
    input_model: type[BaseModel] = NormalizedArticle

    def __init__(self, index: DedupIndex) -> None:
        self.index = index

    def handle(self, message: BaseModel, *, now: float) -> Sequence[Output]:
        assert isinstance(message, NormalizedArticle)
        verdict = self.index.check(message, now=now)
        # The validated input's field values as they are (its __dict__) rather than a model_dump() copy.
        article = DedupedArticle(**message.__dict__, dedup=verdict)
        # Unique articles keyed by their story: every article of a story lands on one partition of
        # ``articles.unique`` and, through entities (which keeps the key), of ``articles.enriched``, where the
        # alerter owns the story's state — no re-keying hop.  Copies keep their own id.
        if verdict.status == "unique":
            return [Output("unique", article.story_id, article)]
        return [Output("duplicates", article.id, article)]
