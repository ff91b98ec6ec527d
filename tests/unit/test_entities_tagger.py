"""The Arabic tagger: the committed model, where it came from, and how the entities stage uses it.

Why: the model is a binary file trained from the vendored corpus by the committed training code.  These tests
hold it to that (the manifest's input hashes are recomputed from the tree: a change to the corpus, the training
code, the features' word lists or the options without ``make model`` fails here), check that it loads and tags a
known sentence, that the fast compiled scoring gives CRFsuite's own labels, and that the setting switches it off.
Training is not run here (``make model``, about two minutes).
"""

from __future__ import annotations

import json

import pycrfsuite
import pytest

from services.entities import hybrid
from services.entities.core import Gazetteer, extract_entities
from services.entities.corpus import CORPUS, CORPUS_SHA256, chunk_doc, chunks, read_corpus, sha256_file
from services.entities.document import _Doc, _Span
from services.entities.features import token_spans
from services.entities.stage import EntitiesStage
from services.entities.tagger import MODEL, Tagger
from services.entities.train import MANIFEST, input_hashes
from services.normalizer.textforms import matching_form

SENTENCE = "وقال الرئيس الفرنسي إيمانويل ماكرون في باريس إن الحكومة ستعمل مع الأمم المتحدة."


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def tagger(gazetteer: Gazetteer) -> Tagger:
    return Tagger(gazetteer)


def _doc(text: str) -> _Doc:
    return _Doc(text, matching_form(text))


def test_the_vendored_corpus_is_the_shared_file_unchanged() -> None:
    assert sha256_file(CORPUS) == CORPUS_SHA256


def test_the_committed_model_was_made_from_the_committed_inputs() -> None:
    """The manifest's input hashes are those of the tree; the model is the file the manifest describes."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    now = input_hashes()
    stale = [key for key, value in now.items() if manifest.get(key) != value]
    assert not stale, (f"the tagger's inputs changed since it was trained ({', '.join(stale)}): run `make model` "
                       "and commit services/entities/data/tagger.crfsuite and tagger.manifest.json")
    assert sha256_file(MODEL) == manifest["model_sha256"], "tagger.crfsuite is not the model of the manifest: " \
        "run `make model`"


def test_the_model_tags_a_known_sentence(tagger: Tagger) -> None:
    doc = _doc(SENTENCE)
    found = {(" ".join(doc.toks[a:b + 1]), t) for a, b, t in token_spans(tagger.tags(doc))}
    assert (matching_form("إيمانويل ماكرون"), "PERSON") in found
    assert (matching_form("باريس"), "LOC") in found


def test_compiled_scoring_gives_crfsuites_own_labels(tagger: Tagger) -> None:
    """Word types compiled into label scores, passed through a basis of the model's attributes: the same Viterbi
    labels as CRFsuite tagging the feature strings."""
    crf = pycrfsuite.Tagger()
    crf.open(str(MODEL))
    groups = chunks(read_corpus()[:400], 300)
    tokens = 0
    for group in groups:
        doc = chunk_doc(group).doc
        assert tagger.tags(doc) == crf.tag(tagger.features.sequence(doc))
        tokens += len(doc.toks)
    assert tokens > 5000
    doc = _doc(SENTENCE)
    assert tagger.tags(doc) == crf.tag(tagger.features.sequence(doc))


def test_an_empty_text_has_no_tags(tagger: Tagger) -> None:
    assert tagger.tags(_doc("")) == [] and tagger.spans(_doc("... !")) == []


def test_shipped_extraction_links_and_names(gazetteer: Gazetteer, tagger: Tagger) -> None:
    """Offsets slice back to the surface, places the gazetteer knows get its ids, an unknown person a stable
    rasd: id (the same one from another sentence)."""
    ents = extract_entities(SENTENCE, matching_form(SENTENCE), gazetteer=gazetteer, tagger=tagger)
    for e in ents:
        assert SENTENCE[e.start:e.end] == e.text
    by_text = {e.text: e for e in ents}
    assert by_text["باريس"].type == "LOC" and not by_text["باريس"].canonical.startswith("rasd:org")
    person = by_text["إيمانويل ماكرون"]
    assert person.type == "PERSON"
    other = "وأكد إيمانويل ماكرون أمس أن فرنسا ستشارك."
    again = [e for e in extract_entities(other, matching_form(other), gazetteer=gazetteer, tagger=tagger)
             if e.text == "إيمانويل ماكرون"]
    assert again and again[0].canonical == person.canonical


def test_english_keeps_the_rules(gazetteer: Gazetteer, tagger: Tagger) -> None:
    text = "Foreign Minister Sergey Lavrov said in Moscow that the talks would go on."
    rules = extract_entities(text, matching_form(text), gazetteer=gazetteer, language="en")
    assert extract_entities(text, matching_form(text), gazetteer=gazetteer, language="en", tagger=tagger) == rules


def test_tagger_spans_stop_at_punctuation(gazetteer: Gazetteer, tagger: Tagger) -> None:
    text = "قال محمد حمدان دقلو (حميدتي) إن قواته انسحبت."
    for t in hybrid.tagger_spans(_doc(text), gazetteer, tagger):
        assert "(" not in text[t.span.start:t.span.end] and ")" not in text[t.span.start:t.span.end]
        assert 0.0 <= t.prob <= 1.0


def test_the_setting_switches_the_tagger(gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASD_ENTITIES_TAGGER", "false")
    assert EntitiesStage(gazetteer).tagger is None
    monkeypatch.delenv("RASD_ENTITIES_TAGGER")
    assert isinstance(EntitiesStage(gazetteer).tagger, Tagger)
    assert EntitiesStage(gazetteer, None).tagger is None


def test_corpus_words_map_to_tagger_tokens() -> None:
    """A corpus word split at punctuation gives tokens that continue its entity; MISC is not an entity."""
    sentences = read_corpus()
    doc = chunk_doc(sentences[:3])
    assert len(doc.labels) == len(doc.doc.toks)
    assert all(label == "O" or label[2:] in ("PERSON", "ORG", "LOC") for label in doc.labels)
    assert doc.doc.toks[0] == matching_form("فرانكفورت") and doc.labels[0] == "B-LOC"
    assert doc.gold[0] == (0, 0, "LOC")


def _span(first: int, last: int, etype: str) -> _Span:
    return _Span(first, last, first, last + 1, etype, f"rasd:{etype.lower()}:{first}", "x", 0.6)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "expected"), [
    ("drop", [(1, 1, "LOC"), (5, 5, "PERSON")]),
    ("fill", [(1, 1, "LOC"), (5, 5, "PERSON"), (8, 9, "ORG")]),
    ("override", [(0, 2, "LOC"), (4, 5, "ORG"), (8, 9, "ORG")]),
    ("agree", [(0, 2, "LOC"), (5, 5, "PERSON"), (8, 9, "ORG")]),
])
def test_the_combination_modes(mode: str, expected: list[tuple[int, int, str]]) -> None:
    """A rule family's entities: dropped; filling only free tokens; replacing the tagger's they overlap; or replacing
    them only where the tagger found the same type there (elsewhere filling)."""
    doc = _doc("a b c d e f g h i j k")
    rules = [("org", _span(0, 2, "LOC")), ("org", _span(4, 5, "ORG")), ("org", _span(8, 9, "ORG"))]
    tagged = [hybrid.Tagged(_span(1, 1, "LOC"), False, 0.9), hybrid.Tagged(_span(5, 5, "PERSON"), False, 0.9),
              hybrid.Tagged(_span(10, 10, "LOC"), False, 0.2)]  # the last: too improbable, and unknown
    policy = hybrid.Policy({"org": mode}, 0.5)  # type: ignore[dict-item]
    kept = hybrid.combine(doc, rules, tagged, policy)
    assert sorted((s.first, s.last, s.type) for s in kept) == expected


def test_a_linked_entity_of_the_tagger_is_kept_whatever_its_probability() -> None:
    doc = _doc("a b c")
    kept = hybrid.combine(doc, [], [hybrid.Tagged(_span(1, 1, "LOC"), True, 0.1)], hybrid.Policy({}, 0.5))
    assert [(s.first, s.type) for s in kept] == [(1, "LOC")]
