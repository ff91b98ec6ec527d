"""People without a title (reporting verbs, given names) and filing places kept by the normalizer.

The articles in ``tests/data/entities_people.jsonl`` were written for these tests (not taken from
the dev set): each lists every PERSON surface it should yield, in order, so a test checks recall and
precision at once; several are mostly traps ("قال مصدر أمني", "أكد البيان", "said the ministry").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.models import Entity, RawArticle
from services.entities.core import Gazetteer, extract_entities
from services.entities.document import _Doc, _Span
from services.entities.lexicon import _NAMES
from services.entities.names import default_lexicon
from services.entities.people import _arabic_name_end, _given_cut, _people_pass, _short_form_pass, _tokens_ending_with
from services.normalizer.core import normalize
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import texts

ARTICLES = [json.loads(line) for line in
            (Path(__file__).resolve().parents[1] / "data" / "entities_people.jsonl").read_text("utf-8").splitlines()
            if line.strip()]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def _extract(text: str, gaz: Gazetteer, language: str = "ar") -> list[Entity]:
    text = display_form(text)
    return extract_entities(text, matching_form(text), gazetteer=gaz, language=language)


def _people(text: str, gaz: Gazetteer, language: str = "ar") -> list[str]:
    return [e.text for e in _extract(text, gaz, language) if e.type == "PERSON"]


@pytest.mark.parametrize("article", ARTICLES, ids=[a["id"] for a in ARTICLES])
def test_people_in_written_articles(gazetteer: Gazetteer, article: dict[str, object]) -> None:
    """Exactly the people of each article are found: introduced by a reporting verb or a given name,
    repeated by family name; the anonymous sources, statements and bodies around them are not people."""
    assert _people(str(article["text"]), gazetteer, str(article["language"])) == article["people"]


@pytest.mark.parametrize("article", ARTICLES, ids=[a["id"] for a in ARTICLES])
def test_people_offsets_and_short_forms_share_an_id(gazetteer: Gazetteer, article: dict[str, object]) -> None:
    """Offsets slice the display text; a family name alone later carries the full name's id."""
    text = display_form(str(article["text"]))
    people = [e for e in _extract(text, gazetteer, str(article["language"])) if e.type == "PERSON"]
    for e in people:
        assert text[e.start:e.end] == e.text
    full = {e.text.split()[-1]: e.canonical for e in people if " " in e.text}
    for e in people:
        if " " not in e.text and e.text in full:
            assert e.canonical == full[e.text]


@pytest.mark.parametrize(("sentence", "name"), [
    ("وقال نوفل الحمامي، إن الانتخابات ستجري في موعدها. وأضاف الحمامي أن", "نوفل الحمامي"),
    ("وأكدت رغد الشامي في تصريح لوكالة الأنباء أن", "رغد الشامي"),
    ("وقال سلام فياض إن الحكومة ستستقيل", "سلام فياض"),
    ("وأشار بوريس غريزلوف إلى أن البرلمان سيصوت", "بوريس غريزلوف"),
    ("وتابع زكريا الدغيمي: \"لن نتراجع\"", "زكريا الدغيمي"),
    ("ثم سجل يونس الحداد الهدف الثالث", "يونس الحداد"),
    ("ونقل المترجم أعمالا لنجيب الريحاني إلى الفرنسية", "نجيب الريحاني"),
    ("غنى محمد عبد الوهاب للموسيقى العربية", "محمد عبد الوهاب"),  # the genitive للموسيقى ends the name
])
def test_arabic_people_from_reporting_verbs_and_given_names(gazetteer: Gazetteer, sentence: str, name: str) -> None:
    """A reporting verb or a known given name opens a two- or three-word name; a proclitic (لنجيب)
    stays out of the mention."""
    assert name in _people(sentence, gazetteer)


@pytest.mark.parametrize("sentence", [
    "وقال مصدر أمني، إن المهاجمين فروا",
    "وأكد البيان أن العملية مستمرة",
    "وقال شهود عيان إن الدخان غطى المكان",
    "وقال مسؤولون حكوميون إن المحادثات متعثرة",
    "وأكد علي ضرورة وقف إطلاق النار فورا",  # على typed with ي, followed by a noun
    "أكد حسن الجوار بين البلدين أهمية التعاون",  # حسن "good" is also a given name
    "وقال محلل سياسي إن الأزمة طويلة",
    "قال مراسل الجزيرة إن القصف مستمر",
    "وأضاف يوسف في حديثه أن",  # one word is not a full name
    "وقال سكان محليون إن المياه انقطعت",
    "استهدفت الغارات قاعدة محمد نجيب العسكرية",  # a base named after a person
    "ونالت الرواية جائزة نجيب محفوظ للأدب",
    "وقال المدرب إن الفريق قدم أداء جيدا",  # الفريق: the team, not the rank
    "وذكرت صحيفة محلية أن الانفجار وقع ليلا",
    "صلى المصلون على النبي محمد صلى الله عليه وسلم",
    "وقعت مصر اتفاقية كامب ديفيد عام 1978",
    "شارك مهرجان محمد عبد الوهاب للموسيقى",
])
def test_arabic_traps_are_not_people(gazetteer: Gazetteer, sentence: str) -> None:
    """Anonymous sources, statements, common words that are also names and names inside other names
    are no PERSON: a wrong person costs as much as a missed one."""
    assert _people(sentence, gazetteer) == []


@pytest.mark.parametrize(("sentence", "name"), [
    ("\"We lost everything,\" said Olena Marchenko, a resident.", "Olena Marchenko"),
    ("Kemal Yilmaz said the border was closed.", "Kemal Yilmaz"),
    ("According to Hamid Karimi, the talks failed.", "Hamid Karimi"),
    ("Ben White drilled in a second from close range.", "Ben White"),
    ("UNICEF's representative, Mandeep O'Brien, said she was horrified.", "Mandeep O'Brien"),
    ("Chief Executive Larry Fink said the region mattered.", "Larry Fink"),
    ("Kevin McCarthy told CNN on Sunday.", "Kevin McCarthy"),  # a short line is no Title Case headline
])
def test_english_people_from_reporting_verbs_and_given_names(gazetteer: Gazetteer, sentence: str,
                                                             name: str) -> None:
    """A capitalised 2-3 word sequence next to said/told/according to, or opened by a given name."""
    assert name in _people(sentence, gazetteer, "en")


@pytest.mark.parametrize("sentence", [
    "The ministry said on Tuesday that talks would resume.",
    "Human Rights Watch said the strikes were unlawful.",
    "The Associated Press said it could not verify the video.",
    "Witnesses told Reuters that shelling continued.",
    "Sources close to the talks said progress was slow.",
    "Rafah Crossing Remains Closed, Officials Say",
    "Ben Gurion Airport was closed for two hours.",
    "George Washington University said classes would resume.",
    "The Supreme Court said Friday it would hear the case.",
    "Rescue Workers Said Fires Burned Overnight In Kharkiv",
    "Elizabeth Line trains were delayed again.",
    "The Charles River flooded after the storm.",
])
def test_english_traps_are_not_people(gazetteer: Gazetteer, sentence: str) -> None:
    """Bodies, days, collective sources, facilities and Title Case headlines are no PERSON."""
    assert _people(sentence, gazetteer, "en") == []


def test_name_lexicons_are_disjoint_and_sizeable() -> None:
    """Given names that are also common words live apart from the safe list; the lists are general
    resources (hundreds of names), not a handful of names from one article set."""
    lex = default_lexicon()
    assert len(lex.given_ar) >= 400 and len(lex.given_en) >= 400
    assert not lex.given_ar & lex.given_ar_common
    assert not (lex.given_ar | lex.given_ar_common) & lex.common_ar


# --- filing places kept in the text by the normalizer ------------------------------------------


@pytest.mark.parametrize(("body", "place", "canonical_name"), [
    ("القاهرة - وكالات\n\nأعلنت الحكومة المصرية خطة جديدة لخفض الأسعار خلال العام المقبل.", "القاهرة", "Cairo"),
    ("بيروت (رويترز)\n\nقال الجيش اللبناني إن دورية تعرضت لإطلاق نار قرب الحدود الجنوبية.", "بيروت", "Beirut"),
])
def test_filing_place_line_is_a_place(gazetteer: Gazetteer, body: str, place: str, canonical_name: str) -> None:
    """The normaliser keeps the filing place of an agency dateline in the text on its own line; the
    entities stage finds it there as a LOC with offsets into the normalised text."""
    article = normalize(RawArticle(title="عنوان الخبر عن الأسعار والحدود", body=body),
                        now=datetime(2024, 9, 10, 12, 0, tzinfo=UTC))
    assert place in article.text.split("\n")
    ents = extract_entities(article.text, article.match_text, gazetteer=gazetteer)
    hits = [e for e in ents if e.text == place]
    assert hits and hits[0].type == "LOC" and hits[0].name == canonical_name
    assert article.text[hits[0].start:hits[0].end] == place


@pytest.mark.parametrize("text", ["", "x", "a+b c++ d+", "ab ab ab", "aab ab baab", "bab.ab-ab", "+ ++ a+ +a"])
def test_tokens_ending_with_is_the_endswith_filter_on_edge_cases(text: str) -> None:
    """Overlapping occurrences, occurrences across a token's end or in a gap, "+" ends, no token at all."""
    doc = _Doc(text, text)
    for tail in ("a", "b", "ab", "aab", "+", "b+", "++", "a b", "zz"):
        assert _tokens_ending_with(doc, tail) == [t for t in doc.toks if t.endswith(tail)]


def test_tokens_ending_with_is_the_endswith_filter_on_real_articles() -> None:
    """The occurrence-based search finds the tokens ending with a tail exactly as a test of every token does, for
    the endings (1-4 letters) and whole tokens of the real articles (Arabic and English)."""
    found = 0
    for text, match in texts():
        doc = _Doc(text, match)
        tails = {t[-k:] for t in doc.toks[:60] for k in (1, 2, 4)} | set(doc.toks[::25])
        for tail in sorted(tails):
            fast = _tokens_ending_with(doc, tail)
            assert fast == [t for t in doc.toks if t.endswith(tail)]
            found += len(fast)
    assert found > 1000


def _doc(text: str) -> _Doc:
    text = display_form(text)
    return _Doc(text, matching_form(text))


def test_name_reader_and_given_names(gazetteer: Gazetteer) -> None:
    """The Arabic name reader stops before "إن"; a given name may carry a proclitic."""
    doc = _doc("وقال رئيس الوزراء نيكول باشينيان إن")
    assert _arabic_name_end(doc, gazetteer, 3) == 4
    assert _arabic_name_end(doc, gazetteer, 5) is None
    assert _given_cut(matching_form("لنجيب"), _NAMES.given_ar) == 1
    assert _given_cut(matching_form("الحرب"), _NAMES.given_ar) is None


def test_people_pass_then_short_forms(gazetteer: Gazetteer) -> None:
    """A given name opens a person; the family name alone later is the same person, at the short form's confidence."""
    doc = _doc("وقال أيوب الكعبي إن الكعبي سجل")
    spans: list[_Span] = []
    _people_pass(doc, gazetteer, spans, gazetteer.positions(doc.toks)[3])
    assert [doc.text[s.start:s.end] for s in spans] == ["أيوب الكعبي"]
    _short_form_pass(doc, spans)
    assert [doc.text[s.start:s.end] for s in spans] == ["أيوب الكعبي", "الكعبي"]
    assert spans[1].canonical == spans[0].canonical and spans[1].confidence == 0.6
