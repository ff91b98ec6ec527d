"""Entity extraction: the functional core of the entities stage (no Faust, no I/O per call).

:func:`extract_entities` runs the passes over the tokens of an article's matching text (:class:`.document._Doc`),
each claiming the tokens it names, in this order:

1. gazetteer aliases, longest match first, tolerant of attached Arabic proclitics, and for Latin-script articles
   the spelling variants of aliases (:mod:`.linking`; a place inside a facility's name is none, :mod:`.places`);
2. organisations outside the gazetteer from a head noun, and ministries (:mod:`.organisations`);
3. people not in the gazetteer found from a title or role (:mod:`.titles`);
4. people without a title: a known given name or a reporting verb with evidence of a name, then short-form
   repetition, a person's family name later in the article (:mod:`.people`);
5. ambiguous aliases kept only after a place cue or next to an accepted place (:mod:`.places`).

The token classes that say where each pass may open are the gazetteer's (:meth:`.gazetteer.Gazetteer.positions`),
from the word lists of :mod:`.lexicon`.  Offsets found in ``match_text`` index ``text`` unchanged (the two forms have
the same length), and ``text[start:end] == entity.text`` always holds.  With a tagger an Arabic article goes to
:mod:`.hybrid`.

This module also re-exports the package's public API (the gazetteer, :func:`.models.construct`, the confidences).
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from schemas.models import Entity
from services.entities.document import (
    CONF_CONTEXT_ALIAS,
    CONF_GIVEN_NAME,
    CONF_MINISTRY,
    CONF_MULTI,
    CONF_NISBA,
    CONF_ORG_PATTERN,
    CONF_REPORTED,
    CONF_SHORT_FORM,
    CONF_SINGLE,
    CONF_TITLE_PERSON,
    CONF_VARIANT,
    _Doc,
    _Span,
)
from services.entities.gazetteer import (
    DATA_DIR,
    ENTITY_TYPES,
    KB_DIR,
    Gazetteer,
    GazetteerEntry,
    GazetteerError,
)
from services.entities.linking import _gazetteer_pass, _variant_pass
from services.entities.models import _entities, construct
from services.entities.organisations import _org_pass
from services.entities.people import _people_pass, _short_form_pass
from services.entities.places import _filter_ambiguous
from services.entities.titles import _context_pass

if TYPE_CHECKING:
    from services.entities.tagger import Tagger

__all__ = [
    "CONF_CONTEXT_ALIAS", "CONF_GIVEN_NAME", "CONF_MINISTRY", "CONF_MULTI", "CONF_NISBA", "CONF_ORG_PATTERN",
    "CONF_REPORTED", "CONF_SHORT_FORM", "CONF_SINGLE", "CONF_TITLE_PERSON", "CONF_VARIANT", "DATA_DIR", "ENTITY_TYPES",
    "KB_DIR", "Gazetteer", "GazetteerEntry", "GazetteerError", "construct", "extract_entities",
]


def extract_entities(text: str, match_text: str, *, gazetteer: Gazetteer, language: str = "ar",
                     nisba: bool = False, tagger: Tagger | None = None) -> list[Entity]:
    """Named people, organisations and places in ``text``, sorted by start, without overlaps.

    ``match_text`` must be ``matching_form(text)`` (same length). ``nisba=True`` also reports
    nationality adjectives ("الأرمينية", "Armenian") as mentions of their country.  With a ``tagger``, an Arabic
    text gets the learned tagger's entities and the rules that win on cross-validation (:mod:`.hybrid`).
    """
    if len(text) != len(match_text):
        raise ValueError("match_text must have the same length as text")
    if tagger is not None and language == "ar":
        from services.entities.hybrid import extract  # (only then: the tagger loads numpy and its model)

        return extract(text, match_text, gazetteer, tagger, nisba)
    doc = _Doc(text, match_text)
    spans: list[_Span] = []
    # The words (classified once, cached across articles) decide which positions deserve a closer look.
    gaz_at, org_at, ctx_at, person_at, facilities = gazetteer.positions(doc.toks, nisba)
    _gazetteer_pass(doc, gazetteer, spans, nisba, gaz_at, facilities)
    if language != "ar":
        _variant_pass(doc, gazetteer, spans)
    _org_pass(doc, gazetteer, spans, org_at)
    _context_pass(doc, gazetteer, spans, ctx_at)
    _people_pass(doc, gazetteer, spans, person_at)
    _short_form_pass(doc, spans)
    kept = _filter_ambiguous(doc, spans)
    kept.sort(key=attrgetter("start"))
    return _entities(text, kept, gazetteer.coords)

