"""``rasd process``: the four stages in-process, in pipeline order, with no Kafka.

The same :func:`process_message` edge the agents use carries each article
from stage to stage as bytes, so what this proves holds in the stream: the
same cores, the same codec, the same dead-letter decisions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from schemas.codec import decode
from schemas.models import Alert, DeadLetter, DedupedArticle, EnrichedArticle
from services.alerter.core import Lexicon, StoryState, decide_story
from services.alerter.stage import AlerterStage
from services.common.stage import Emit, Stage, process_message
from services.deduplicator.core import DedupConfig, DedupIndex
from services.deduplicator.stage import DeduplicatorStage
from services.entities.shared import default_gazetteer
from services.entities.stage import EntitiesStage
from services.normalizer.stage import NormalizerStage


class OfflinePipeline:
    """All four stages with in-memory state, one article at a time."""

    def __init__(self, dedup: DedupConfig | None = None, *, emit_low: bool = False) -> None:
        self.stages: dict[str, Stage] = {}
        for stage in (
            NormalizerStage(),
            DeduplicatorStage(DedupIndex(dedup or DedupConfig())),
            EntitiesStage(default_gazetteer()),
            AlerterStage(Lexicon.load(), emit_low=emit_low),
        ):
            self.stages[stage.source] = stage
        self.stories: dict[str, StoryState] = {}

    def run(self, raw: bytes, *, now: float | None = None) -> dict[str, list[Emit]]:
        """Every message the pipeline emits for one raw article, by topic field."""
        at = time.time() if now is None else now
        emitted: dict[str, list[Emit]] = {}
        pending = [Emit("raw", b"", raw)]
        while pending:
            emit = pending.pop(0)
            emitted.setdefault(emit.topic, []).append(emit)
            stage = self.stages.get(emit.topic)
            if stage is not None:
                pending.extend(process_message(stage, emit.value, now=at, topic=emit.topic, key=emit.key))
        return emitted

    def process(self, raw: bytes, *, now: float | None = None) -> dict[str, Any]:
        """One output record (the ``rasd process`` line) for one raw article."""
        emitted = self.run(raw, now=now)
        record = summarise(emitted)
        if "alerts" in emitted:  # the article's own alert; ``delivery`` is what the stream does with it
            alert = decode(emitted["alerts"][0].value, Alert)
            story = alert.story_id or alert.article_id
            decision = decide_story(self.stories.get(story), alert, default_gazetteer().containers)
            if decision.state is not None:
                self.stories[story] = decision.state
            record["alert"]["delivery"] = decision.action
        return record


def summarise(emitted: dict[str, list[Emit]]) -> dict[str, Any]:
    """Flatten what the stages emitted for one article into the documented output record."""
    record: dict[str, Any] = {
        "id": None, "status": "rejected", "duplicate_of": None, "similarity": None, "story_id": None,
        "title": None, "language": None, "text": None, "entities": [], "alert": None, "error": None,
    }
    if "dlq" in emitted:
        letter = decode(emitted["dlq"][0].value, DeadLetter)
        record.update(error=f"{letter.stage}: {letter.error}", id=letter.key or None)
    article: DedupedArticle | None = None
    if "enriched" in emitted:
        enriched = decode(emitted["enriched"][0].value, EnrichedArticle)
        article = enriched
        record["entities"] = [e.model_dump(mode="json") for e in enriched.entities]
    elif "unique" in emitted or "duplicates" in emitted:
        article = decode((emitted.get("unique") or emitted["duplicates"])[0].value, DedupedArticle)
    if article is not None:
        record.update(
            id=article.id,
            status=article.dedup.status,
            duplicate_of=article.dedup.duplicate_of,
            similarity=article.dedup.similarity,
            story_id=article.story_id,
            title=article.title,
            language=article.language,
            text=article.text,
        )
    if "alerts" in emitted:
        alert = decode(emitted["alerts"][0].value, Alert)
        record["alert"] = alert.model_dump(mode="json", include={"severity", "score", "matches", "alert_id"})
    return record


def process_all(raws: Iterable[bytes], pipeline: OfflinePipeline | None = None) -> Iterator[dict[str, Any]]:
    """Output records for every raw article, in input order."""
    pipe = pipeline or OfflinePipeline()
    for raw in raws:
        yield pipe.process(raw)
