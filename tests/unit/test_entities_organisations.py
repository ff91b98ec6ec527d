"""Organisations outside the gazetteer (services/entities/organisations.py): head nouns, units, ministries."""

from __future__ import annotations

import pytest

from services.entities.document import _Doc, _Span
from services.entities.gazetteer import Gazetteer
from services.entities.organisations import _arabic_org, _english_org, _ministry
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import extract


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.mark.parametrize(("sentence", "surface"), [
    ("وأعلنت الهيئة العليا المستقلة للانتخابات النتائج الأولية", "الهيئة العليا المستقلة للانتخابات"),
    ("وقالت خدمة حرس الحدود الأذربيجانية إنها ردت على إطلاق النار", "خدمة حرس الحدود الأذربيجانية"),
    ("وقال رئيس هيئة الأركان العامة الروسية إن القوات تقدمت", "هيئة الأركان العامة الروسية"),
    ("وقالت الفرقة السادسة مشاة في بيان إن قواتها صدت الهجوم", "الفرقة السادسة مشاة"),
    ('اندلعت اشتباكات بين "اللواء 444 قتال" ومجموعة أخرى', "اللواء 444 قتال"),
    ("The State Emergency Service said two people were killed.", "State Emergency Service"),
    ("Russia's Defence Ministry said its forces hit a hangar.", "Defence Ministry"),
    ("A statement by the Ministry of Foreign Affairs followed.", "Ministry of Foreign Affairs"),
])
def test_organisations_from_head_nouns(gazetteer: Gazetteer, sentence: str, surface: str) -> None:
    """Organisations outside the gazetteer are found from a head noun and a name-like continuation."""
    ents = extract(sentence, gazetteer, "en" if sentence.isascii() else "ar")
    assert (surface, "ORG") in {(e.text, e.type) for e in ents}


@pytest.mark.parametrize("sentence", [
    "شهدت المنطقة حركة نزوح واسعة نحو الجنوب",
    "عقد المجلس اجتماعه الدوري أمس",
    "وصلت القوات إلى أطراف المدينة",
    "دعت الهيئة إلى الهدوء",
    "The ministry said it would respond.",
])
def test_no_organisation_from_a_bare_head_noun(gazetteer: Gazetteer, sentence: str) -> None:
    """A head noun without a name-like continuation (a genitive, a country adjective, quotes) is no entity."""
    assert not [e for e in extract(sentence, gazetteer, "en" if sentence.isascii() else "ar") if e.type == "ORG"]


def _doc(text: str) -> _Doc:
    text = display_form(text)
    return _Doc(text, matching_form(text))


def test_arabic_and_english_heads_give_the_name_s_tokens(gazetteer: Gazetteer) -> None:
    """(first, last, proclitic length, English name) of an organisation opened at a token."""
    assert _arabic_org(_doc("أعلنت الهيئة العليا المستقلة للانتخابات النتائج"), gazetteer, 1) == (1, 4, 0, "")
    assert _arabic_org(_doc("دعت الهيئة إلى الهدوء"), gazetteer, 1) is None
    assert _english_org(_doc("The State Emergency Service said"), 3) == (1, 3, 0, "")


def test_ministry_with_a_country_adjective(gazetteer: Gazetteer) -> None:
    doc = _doc("وقالت وزارة الدفاع الأرمينية إن")
    spans: list[_Span] = []
    assert _ministry(doc, gazetteer, spans, 1) == 3
    assert [(s.name, s.canonical, s.confidence) for s in spans] == [
        ("Ministry of Defence of Armenia", "rasd:org:ministry-of-defence-of-armenia", 0.75)]
