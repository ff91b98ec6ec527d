"""The entities stage: unique articles in, the same articles with their entities out."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from schemas.models import DedupedArticle, EnrichedArticle
from services.common.stage import Output

from .core import Gazetteer, extract_entities


class EntitiesStage:
    """Finds people, organisations and places and links them to canonical ids."""

    name: str = "entities"
    source: str = "unique"
    targets: tuple[str, ...] = ("enriched",)
    input_model: type[BaseModel] = DedupedArticle

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer

    def handle(self, message: BaseModel, *, now: float) -> Sequence[Output]:
        assert isinstance(message, DedupedArticle)
        entities = extract_entities(
            message.text, message.match_text, gazetteer=self.gazetteer, language=message.language
        )
        # The message's own field values (``__dict__``: no dump to dicts and back), validated once more with the
        # entities; nested models already validated (the verdict, the entities) are taken as they are.
        article = EnrichedArticle.model_validate({**message.__dict__, "entities": entities})
        return [Output("enriched", article.id, article)]
