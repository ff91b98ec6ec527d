"""The models the extraction emits (services/entities/models.py): built without validation, equal to validated ones
(the stage-level checks on real traffic are in test_entities_stage.py)."""

from __future__ import annotations

from schemas.models import Entity
from services.entities.document import _Span
from services.entities.models import _entities, construct


def test_entities_of_spans_are_the_validated_models_with_coordinates() -> None:
    text = "Kyiv and Zelensky"
    spans = [_Span(0, 0, 0, 4, "LOC", "Q1899", "Kyiv", 0.85), _Span(2, 2, 9, 17, "PERSON", "Q3874799", "Zelensky", 0.6)]
    built = _entities(text, spans, {"Q1899": (50.45, 30.52)})
    assert built == [
        Entity.model_validate({"text": "Kyiv", "type": "LOC", "canonical": "Q1899", "name": "Kyiv", "start": 0,
                               "end": 4, "confidence": 0.85, "lat": 50.45, "lon": 30.52}),
        Entity.model_validate({"text": "Zelensky", "type": "PERSON", "canonical": "Q3874799", "name": "Zelensky",
                               "start": 9, "end": 17, "confidence": 0.6, "lat": None, "lon": None}),
    ]
    assert all(e.model_fields_set == set(Entity.model_fields) for e in built)
    assert _entities(text, []) == []


def test_construct_is_model_construct_for_valid_values() -> None:
    values = {"text": "Kyiv", "type": "LOC", "canonical": "Q1899", "name": "Kyiv", "start": 0, "end": 4,
              "confidence": 0.85, "lat": None, "lon": None}
    made = construct(Entity, dict(values))
    assert made == Entity.model_validate(values) and made.model_fields_set == set(values)
