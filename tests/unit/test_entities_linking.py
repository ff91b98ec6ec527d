"""Linking (services/entities/linking.py): the gazetteer pass and the Latin variant pass, and the fast paths of
the gazetteer pass pinned to the plain code they replace."""

from __future__ import annotations

import pytest

from services.entities.document import CONF_VARIANT, _capitalised, _Doc, _Span
from services.entities.gazetteer import Gazetteer, _Alias
from services.entities.lexicon import _EN_PARTICLES, _EN_STOP
from services.entities.linking import _gazetteer_pass, _latin_ok, _variant_pass
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import texts


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()

# Real articles, and places named inside a facility's name (a head before, an English tail after).
_FACILITY_TEXTS = [
    "قصفت القوات محطة دنيبرو الكهرومائية، وقال مسؤول في جامعة طرابلس إن سد مأرب بخير.",
    "Russian forces shelled the Zaporizhzhia Power Plant and the Kakhovka Dam near Kherson.",
]


def _gazetteer_spans(gaz: Gazetteer, text: str, match: str, plain: bool) -> list[_Span]:
    doc = _Doc(text, match)
    spans: list[_Span] = []
    gaz_at, _, _, _, facilities = gaz.positions(doc.toks)
    _gazetteer_pass(doc, gaz, spans, False, gaz_at, True if plain else facilities)
    return spans


@pytest.mark.parametrize("source", ["articles", "facilities"])
def test_gazetteer_pass_without_facility_words_is_the_plain_pass(gazetteer: Gazetteer, source: str) -> None:
    """The gazetteer pass told "no facility word" claims exactly what the plain pass (every place tested for a
    facility's name, every token through its starters) claims, on real articles and on places inside facilities'
    names: the facility shortcut and the one-token shortcut (``Gazetteer._singles``) both run in the first."""
    pairs = texts() if source == "articles" else [(t, matching_form(t)) for t in map(display_form, _FACILITY_TEXTS)]
    claimed = 0
    for text, match in pairs:
        fast = _gazetteer_spans(gazetteer, text, match, plain=False)
        assert fast == _gazetteer_spans(gazetteer, text, match, plain=True)
        claimed += len(fast)
    assert claimed > 0
    if source == "facilities":  # the facility test still runs there: "جامعة طرابلس" is the University of Tripoli
        text, match = pairs[0]
        spans = _gazetteer_spans(gazetteer, text, match, plain=False)
        assert any(s.type == "ORG" and "university" in s.canonical for s in spans)


def _plain_latin_ok(doc: _Doc, first: int, last: int, alias: _Alias) -> bool:
    """``_latin_ok`` as it was written before its shortcuts."""
    words = [doc.word(k) for k in range(first, last + 1)]
    if alias.acronym:
        return all(w.isupper() for w in words)
    if len(words) == 1:
        return _capitalised(words[0])
    content = [w for w in words if w.lower() not in _EN_PARTICLES and w.lower() not in _EN_STOP]
    return bool(content) and _capitalised(words[0]) and _capitalised(content[-1])


@pytest.mark.parametrize("acronym", [False, True])
def test_latin_ok_is_the_plain_test_on_real_words(acronym: bool) -> None:
    """``_latin_ok`` with its shortcuts (one word without lists, the first word tested first, one set of function
    words) answers as the plain test for every one, two and three words of the real articles (English words
    capitalised, lower-case and all capitals, Arabic ones)."""
    alias = _Alias(0, 0, True, acronym, False, "LOC", "Q1", "X", 0.85)
    answers = set()
    for text, match in texts():
        doc = _Doc(text, match)
        for first in range(len(doc.toks)):
            for last in range(first, min(first + 3, len(doc.toks))):
                answer = _latin_ok(doc, first, last, alias)
                assert answer == _plain_latin_ok(doc, first, last, alias)
                answers.add(answer)
    assert answers == {True, False}


def _doc(text: str) -> _Doc:
    text = display_form(text)
    return _Doc(text, matching_form(text))


def _linked(gaz: Gazetteer, text: str, variants: bool = False) -> list[tuple[str, str, float]]:
    doc = _doc(text)
    spans: list[_Span] = []
    gaz_at, _, _, _, facilities = gaz.positions(doc.toks)
    _gazetteer_pass(doc, gaz, spans, False, gaz_at, facilities)
    if variants:
        _variant_pass(doc, gaz, spans)
    return [(doc.text[s.start:s.end], s.canonical, s.confidence) for s in spans]


def test_gazetteer_pass_takes_the_longest_alias_without_its_proclitic(gazetteer: Gazetteer) -> None:
    """"وقطاع غزة" is the Gaza Strip (two words, the و left out), not Gaza."""
    found = _linked(gazetteer, "قصف وقطاع غزة")
    assert len(found) == 1 and found[0][0] == "قطاع غزة" and found[0][2] == 0.95


def test_variant_pass_links_a_spelling_variant_not_at_a_sentence_start(gazetteer: Gazetteer) -> None:
    """"Zelenskiy" is a variant of Zelensky's alias: linked inside a sentence, at the variant confidence; not when
    it opens the text (a one-word variant must not open a sentence)."""
    inside = _linked(gazetteer, "The president Zelenskiy met Biden.", variants=True)
    assert ("Zelenskiy", "Q3874799", CONF_VARIANT) in inside
    assert not [f for f in _linked(gazetteer, "Zelenskiy met Biden.", variants=True) if f[0] == "Zelenskiy"]
