"""The context pass (services/entities/titles.py): people found from a title or role, and ministries."""

from __future__ import annotations

import pytest

from services.entities.document import _Doc, _Span
from services.entities.gazetteer import Gazetteer
from services.entities.titles import _TITLE_AR, _TITLE_EN, _context_opener, _context_pass
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import extract


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.mark.parametrize(("sentence", "name"), [
    ("وقال رئيس الوزراء الأرميني غيغام ستيبانيان، إن الوضع خطير", "غيغام ستيبانيان"),
    ("وحذرت منسقة الأمم المتحدة للشؤون الإنسانية في السودان كليمنتين نكويتا سلامي من أن الهجوم",
     "كليمنتين نكويتا سلامي"),
    ("وقال وزير المالية علي بن أحمد الكواري أن الاقتصاد ينمو", "علي بن أحمد الكواري"),
    ("وأعلن القائم بأعمال حاكم المقاطعة أليكسي سميرنوف فرض حالة الطوارئ", "أليكسي سميرنوف"),
    ("برئاسة نائب رئيس الوزراء مهير غريغوريان ونظيره شاهين مصطفاييف، خلص الاجتماع", "مهير غريغوريان"),
])
def test_title_introduces_unknown_person(gazetteer: Gazetteer, sentence: str, name: str) -> None:
    """A role or title followed by two or three name words is a person; the name ends at a verb,
    a conjunction, punctuation or a definite noun."""
    people = [e for e in extract(sentence, gazetteer) if e.type == "PERSON"]
    assert name in [e.text for e in people]
    hit = next(e for e in people if e.text == name)
    assert hit.canonical.startswith("rasd:person:")


@pytest.mark.parametrize("sentence", [
    "وقال مسؤول أميركي اشترط عدم الكشف عن هويته",
    "ومن المقرر أن يحضر رئيس أركان حرب القوات المسلحة",
    "وأشاد مفوض حقوق الإنسان بالجهود",
    "دعا رئيس المجلس الأوروبي شارل ميشال أذربيجان إلى وقف عمليتها العسكرية",
])
def test_no_invented_people(gazetteer: Gazetteer, sentence: str) -> None:
    """Titles followed by ordinary nouns do not make people (a wrong PERSON costs as much as a miss)."""
    people = [e.text for e in extract(sentence, gazetteer) if e.type == "PERSON"]
    assert people in ([], ["شارل ميشال"])


def test_english_title_introduces_person(gazetteer: Gazetteer) -> None:
    """"regional governor Oleh Kiper" -> a person, and "Kiper" alone later is the same one."""
    text = "Odesa regional governor Oleh Kiper said 20 were killed. Kiper added that rescue work continued."
    people = [e for e in extract(text, gazetteer, language="en") if e.type == "PERSON"]
    assert [e.text for e in people] == ["Oleh Kiper", "Kiper"]
    assert people[0].canonical == people[1].canonical


def test_context_opener_reads_the_word_alone() -> None:
    """(may open a ministry, which title), from the word: Arabic and English titles, a bare ministry."""
    assert _context_opener(matching_form("وزير")) == (False, _TITLE_AR)
    assert _context_opener("president") == (False, _TITLE_EN)
    assert _context_opener(matching_form("الخارجية")) == (True, 0)
    assert _context_opener("said") == (False, 0)


def test_context_pass_claims_a_titled_person_and_a_ministry(gazetteer: Gazetteer) -> None:
    text = display_form("وقال وزير الخارجية الأرميني أرارات ميرزويان إن وزارة الدفاع الروسية نفت")
    doc = _Doc(text, matching_form(text))
    spans: list[_Span] = []
    _context_pass(doc, gazetteer, spans, gazetteer.positions(doc.toks)[2])
    got = {(doc.text[s.start:s.end], s.type) for s in spans}
    assert ("أرارات ميرزويان", "PERSON") in got
    assert ("وزارة الدفاع الروسية", "ORG") in got
