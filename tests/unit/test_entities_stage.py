"""The entities stage through its edge: what it builds without validating is valid, and bad input still dead-letters.

Why: the stage builds its ``Entity`` and ``EnrichedArticle`` models with ``construct`` (no second validation, for
speed), trusting that the edge validated the input and that the core only produces valid values.  These tests hold
it to that on real articles: everything it sends must pass the models' validation unchanged, and a message the models
reject must still become a dead letter with the reason, never an enriched article.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from rasd.inputs import read_articles
from rasd.offline import OfflinePipeline
from schemas.codec import decode, encode
from schemas.models import DeadLetter, EnrichedArticle, Entity
from services.common.metrics import StageMetrics
from services.common.stage import process_message
from services.entities.core import construct, extract_entities
from services.entities.stage import EntitiesStage
from services.normalizer.textforms import matching_form

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = [ROOT / "seeds", ROOT / "tests" / "data" / "entities_people.jsonl",
            ROOT / "tests" / "data" / "alerter_robustness.jsonl"]


@pytest.fixture(scope="module")
def stage() -> EntitiesStage:
    found = [s for s in OfflinePipeline().stages.values() if isinstance(s, EntitiesStage)]
    return found[0]


@pytest.fixture(scope="module")
def unique_messages() -> list[bytes]:
    """What the entities stage receives for the seeds and the test articles (the earlier stages' output)."""
    pipeline = OfflinePipeline()
    out = [emit.value for raw in read_articles(ARTICLES) for emit in pipeline.run(raw, now=1.0e9).get("unique", [])]
    assert len(out) >= 50
    return out


def test_what_the_stage_builds_is_what_validation_builds(stage: EntitiesStage, unique_messages: list[bytes]) -> None:
    """Every entity and enriched article built without validation equals the model validated from its own values
    (same values, same fields set), and its bytes decode back to it: the contract holds without the second pass."""
    total = 0
    for value in unique_messages:
        [emit] = process_message(stage, value, now=1.0e9, topic="unique")
        assert emit.topic == "enriched"
        [output] = stage.handle(decode(value, stage.input_model), now=1.0e9)
        built = output.value
        assert isinstance(built, EnrichedArticle)
        for entity in built.entities:
            validated = Entity.model_validate(entity.__dict__)
            assert validated == entity and validated.__pydantic_fields_set__ == entity.__pydantic_fields_set__
            assert type(entity.start) is int and type(entity.confidence) is float  # the exact JSON types
        again = EnrichedArticle.model_validate(built.model_dump())
        assert again == built and again.__pydantic_fields_set__ == built.__pydantic_fields_set__
        assert decode(emit.value, EnrichedArticle) == built and encode(built) == emit.value
        total += len(built.entities)
    assert total >= 100  # the test articles really exercise the builder


def _broken(unique: bytes, change: str) -> bytes:
    obj = orjson.loads(unique)
    if change == "misaligned":
        obj["match_text"] += "x"
    elif change == "no verdict":
        del obj["dedup"]
    elif change == "unknown field":
        obj["entities"] = []
    elif change == "wrong type":
        obj["ingested_at"] = "yesterday"
    return orjson.dumps(obj)


@pytest.mark.parametrize(("change", "reason"), [
    ("misaligned", "match_text must have the same length as text"),
    ("no verdict", "dedup: Field required"),
    ("unknown field", "entities: Extra inputs are not permitted"),
    ("wrong type", "ingested_at: Input should be a valid number"),
])
def test_invalid_input_becomes_a_dead_letter_with_the_reason(
    stage: EntitiesStage, unique_messages: list[bytes], change: str, reason: str,
) -> None:
    """The models still judge the input at the edge: a message they reject is a dead letter naming the problem,
    with its original bytes, and is counted as a decode failure; nothing reaches articles.enriched."""
    registry = CollectorRegistry()
    metrics = StageMetrics(registry, "entities", consumes=["unique"], produces=["enriched", "dlq"])
    value = _broken(unique_messages[0], change)
    [emit] = process_message(stage, value, now=1.0e9, topic="articles.unique", key=b"k", metrics=metrics)
    assert emit.topic == "dlq"
    letter = decode(emit.value, DeadLetter)
    assert letter.stage == "entities" and "invalid DedupedArticle" in letter.error and reason in letter.error
    assert letter.original_text == value.decode()
    assert registry.get_sample_value("rasd_dead_letters_total", {"service": "entities", "reason": "decode"}) == 1


def test_entities_sharing_one_fields_set_stay_independent(stage: EntitiesStage, unique_messages: list[bytes]) -> None:
    """The entities share one ``fields_set`` (as ``model_construct`` allows); copying one with changes must not
    touch the others, and none can be changed in place (frozen)."""
    [output] = stage.handle(decode(unique_messages[0], stage.input_model), now=1.0e9)
    assert isinstance(output.value, EnrichedArticle)
    first, second = output.value.entities[:2]
    before = set(second.__pydantic_fields_set__)
    moved = first.model_copy(update={"start": first.start + 1})
    assert moved.start == first.start + 1 and moved.__pydantic_fields_set__ is not first.__pydantic_fields_set__
    assert second.__pydantic_fields_set__ == before == set(Entity.model_fields)
    with pytest.raises(ValidationError, match="frozen"):
        first.start = 0  # type: ignore[misc]


@pytest.mark.parametrize(("text", "names_something"), [
    ("", False),
    ("لا أسماء هنا", False),
    ("وقال وزير الخارجية الأرميني أرارات ميرزويان إن أرمينيا وأذربيجان", True),
])
def test_entities_built_together_are_complete_models(stage: EntitiesStage, text: str, names_something: bool) -> None:
    """The entities of an article are built a slot at a time for all of them (one C loop per slot, for speed): each
    must still be a whole ``Entity`` as ``construct`` makes one (every slot set, extra and private unset as None,
    the shared fields set), and an article without entities (empty text too) must give none."""
    found = extract_entities(text, matching_form(text), gazetteer=stage.gazetteer)
    assert bool(found) == names_something
    for entity in found:
        alone = construct(Entity, dict(entity.__dict__), set(Entity.model_fields))
        assert type(entity) is Entity and entity == alone and entity.model_dump() == alone.model_dump()
        assert entity.__pydantic_extra__ is None and entity.__pydantic_private__ is None
        assert entity.__pydantic_fields_set__ == set(Entity.model_fields)
        assert text[entity.start:entity.end] == entity.text
