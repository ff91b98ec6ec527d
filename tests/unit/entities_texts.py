"""Texts and helpers the entities tests share: every test article's title and body in display and matching form,
the packaged gazetteer, and extraction from a display text."""

from __future__ import annotations

from pathlib import Path

import orjson

from rasd.inputs import read_articles
from schemas.models import Entity
from services.entities.core import Gazetteer, extract_entities
from services.normalizer.textforms import display_form, matching_form

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = [ROOT / "seeds", ROOT / "tests" / "data" / "entities_people.jsonl",
            ROOT / "tests" / "data" / "alerter_robustness.jsonl", ROOT / "tests" / "data" / "originals.jsonl"]


def texts() -> list[tuple[str, str]]:
    """(display form, matching form) of the title and body of every test article (what the stage reads)."""
    out = []
    for raw in read_articles(ARTICLES):
        obj = orjson.loads(raw)
        if isinstance(obj, dict):
            shown = [display_form(obj[k]) for k in ("title", "body") if isinstance(obj.get(k), str)]
            out.extend((text, matching_form(text)) for text in shown)
    return out


def match_texts() -> list[str]:
    """The matching forms of the title and body of every test article (what the stage tokenizes)."""
    return [match for _, match in texts()]


def extract(text: str, gaz: Gazetteer, language: str = "ar", **kw: bool) -> list[Entity]:
    """The entities of ``text`` (any form: put through ``display_form`` first)."""
    text = display_form(text)
    return extract_entities(text, matching_form(text), gazetteer=gaz, language=language, **kw)
