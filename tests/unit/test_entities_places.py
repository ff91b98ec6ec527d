"""Places (services/entities/places.py): a place inside a facility's name is none, and an ambiguous alias is kept
only after a place cue or next to an accepted place."""

from __future__ import annotations

import pytest

from services.entities.document import _CTX, _Doc, _Span
from services.entities.gazetteer import Gazetteer
from services.entities.places import _filter_ambiguous, _inside_facility
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import extract


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def test_ambiguous_place_accepted_with_a_place_cue_or_in_a_list(gazetteer: Gazetteer) -> None:
    """"حجة" is Hajjah after "محافظة" or next to other places; otherwise it is a common word."""
    ents = extract("استهدفت الغارات محافظة حجة", gazetteer)
    assert [e.text for e in ents if e.canonical == "rasd:loc:hajjah"] == ["حجة"]
    ents = extract("غارات على صنعاء والحديدة وتعز وحجة", gazetteer)
    assert {"rasd:loc:taiz", "rasd:loc:hajjah", "Q2471", "rasd:loc:hodeidah"} <= {e.canonical for e in ents}


def test_an_ambiguous_place_read_once_is_read_throughout_the_article(gazetteer: Gazetteer) -> None:
    """One sense per discourse: once "مدينة الأبيض" says that الأبيض is El Obeid, the headline's "سوق الأبيض"
    is El Obeid too (the headline is where story grouping and alerts look first).  Without any cue the word
    stays a colour, and the White House keeps its own name."""
    obeid = "rasd:loc:el-obeid"
    ents = extract("مسيرات تضرب سوق الأبيض\nقتل 20 مدنيا في مدينة الأبيض عاصمة ولاية شمال كردفان", gazetteer)
    assert [e.text for e in ents if e.canonical == obeid] == ["الأبيض", "الأبيض"]
    assert not [e for e in extract("مسيرات تضرب سوق الأبيض\nارتدى اللاعبون القميص الأبيض", gazetteer)
                if e.canonical == obeid]
    ents = extract("قال البيت الأبيض إن مسيرات ضربت مدينة الأبيض", gazetteer)
    assert [e.canonical for e in ents] == ["rasd:org:white-house", obeid]


@pytest.mark.parametrize(("sentence", "place"), [
    ("استهدف الهجوم محطة دنيبرو الكهرومائية", "دنيبرو"),
    ("تضرر سد مأرب بعد السيول", "مأرب"),
    ("Russia struck the Kakhovka Dam overnight", "Kakhovka"),
])
def test_place_inside_a_facility_name_is_not_a_place(gazetteer: Gazetteer, sentence: str, place: str) -> None:
    """A place name directly after محطة/سد/... (or before Dam/Plant...) names a facility, not the place."""
    assert place not in {e.text for e in extract(sentence, gazetteer, "en" if sentence.isascii() else "ar")
                         if e.type == "LOC"}


def test_university_named_after_a_city_is_an_organisation(gazetteer: Gazetteer) -> None:
    """"جامعة طرابلس" is the University of Tripoli (ORG), built from the city's canonical name."""
    ents = extract("أغلقت جامعة طرابلس أبوابها بسبب الاشتباكات", gazetteer)
    assert [(e.text, e.type, e.name) for e in ents] == [("جامعة طرابلس", "ORG", "University of Tripoli")]


def _doc(text: str) -> _Doc:
    text = display_form(text)
    return _Doc(text, matching_form(text))


def test_inside_facility_from_an_arabic_head_or_an_english_tail() -> None:
    doc = _doc("قصفت القوات محطة دنيبرو الكهرومائية")
    assert _inside_facility(doc, 3, 3, 0) and not _inside_facility(doc, 3, 3, 1)  # a proclitic breaks the phrase
    doc = _doc("Russian forces shelled the Kakhovka Dam")
    assert _inside_facility(doc, 4, 4, 0) and not _inside_facility(doc, 1, 1, 0)


def test_filter_drops_an_ambiguous_alias_without_cue_or_neighbour() -> None:
    """A context alias with no place cue before it and no place next to it goes; a plain span stays."""
    doc = _doc("قال حجة إن مدينة صور")
    spans = [_Span(1, 1, doc.start(1), doc.end(1), "LOC", "rasd:loc:hajjah", "Hajjah", 0.7, _CTX),
             _Span(4, 4, doc.start(4), doc.end(4), "LOC", "rasd:loc:tyre", "Tyre", 0.7, _CTX)]
    for k, span in enumerate(spans):
        doc.owner[span.first] = k
    assert [s.canonical for s in _filter_ambiguous(doc, spans)] == ["rasd:loc:tyre"]
