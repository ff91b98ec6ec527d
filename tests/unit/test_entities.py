"""The entities stage's extraction end to end (extract_entities): the seeds, proclitics, ambiguity, adjectives,
people, English, coverage.  Each pass has its own file too: test_entities_<module>.py."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from schemas.models import Entity
from services.entities.core import Gazetteer, extract_entities
from services.normalizer.textforms import display_form, matching_form

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def _extract(text: str, gaz: Gazetteer, language: str = "ar", **kw: bool) -> list[Entity]:
    text = display_form(text)
    return extract_entities(text, matching_form(text), gazetteer=gaz, language=language, **kw)


def _seed(name: str) -> str:
    path = next(SEEDS.glob(f"{name}_*.txt"))
    return display_form(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seed_entities(gazetteer: Gazetteer) -> dict[str, tuple[str, list[Entity]]]:
    out = {}
    for name in ("000", "002"):
        text = _seed(name)
        out[name] = (text, extract_entities(text, matching_form(text), gazetteer=gazetteer))
    return out


# --- the seeds -------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "canonical", "etype", "surface"), [
    ("000", "rasd:person:antony-blinken", "PERSON", "أنتوني بلينكن"),
    ("000", "rasd:person:nikol-pashinyan", "PERSON", "نيكول باشينيان"),
    ("000", "rasd:person:maria-zakharova", "PERSON", "ماريا زاخاروفا"),
    ("000", "rasd:person:charles-michel", "PERSON", "شارل ميشال"),
    ("000", "Q227", "LOC", "أذربيجان"),
    ("000", "Q399", "LOC", "أرمينيا"),
    ("000", "Q9248", "LOC", "باكو"),
    ("000", "Q159", "LOC", "روسيا"),
    ("000", "Q37470", "ORG", "مجلس الأمن الدولي"),
    ("000", "rasd:loc:nagorno-karabakh", "LOC", "ناغورنو كاراباخ"),
    ("000", "rasd:org:interfax", "ORG", "وكالة إنترفاكس"),
    ("002", "rasd:person:antony-blinken", "PERSON", "أنتوني بلينكن"),
    ("002", "rasd:person:charles-michel", "PERSON", "شارل ميشال"),
    ("002", "Q142", "LOC", "فرنسا"),
    ("002", "Q159", "LOC", "روسيا"),
    ("002", "Q37470", "ORG", "مجلس الأمن الدولي"),
    ("002", "Q30", "LOC", "الولايات المتحدة"),
    ("002", "rasd:loc:nagorno-karabakh", "LOC", "ناغورني كاراباخ"),
    ("002", "rasd:loc:lachin-corridor", "LOC", "ممر لاتشين"),
    ("002", "rasd:org:afp", "ORG", "فرانس برس"),
])
def test_seed_entities_found(seed_entities: dict[str, tuple[str, list[Entity]]], seed: str,
                             canonical: str, etype: str, surface: str) -> None:
    """The people, places and bodies the seed articles are about are found, typed and linked."""
    _, ents = seed_entities[seed]
    hits = [e for e in ents if e.canonical == canonical]
    assert hits, f"{canonical} not found in seed {seed}"
    assert all(e.type == etype for e in hits)
    assert surface in {e.text for e in hits}


@pytest.mark.parametrize("seed", ["000", "002"])
def test_seed_offsets_slice_back_sorted_without_overlap(
        seed_entities: dict[str, tuple[str, list[Entity]]], seed: str) -> None:
    """Offsets index the display text exactly; mentions are sorted and never overlap."""
    text, ents = seed_entities[seed]
    assert ents
    for e in ents:
        assert text[e.start:e.end] == e.text
        assert 0 < e.confidence <= 1
    for a, b in pairwise(ents):
        assert a.end <= b.start


def test_seed_nisba_adjectives_are_not_countries(seed_entities: dict[str, tuple[str, list[Entity]]]) -> None:
    """"القوات المسلحة الأرمينية" / "الجانب الأذربيجاني" are adjectives, not mentions of the country."""
    for _, ents in seed_entities.values():
        surfaces = {e.text for e in ents}
        assert not surfaces & {"الأرمينية", "الأذربيجاني", "الأذربيجانية", "الروسية", "الأميركي"}
        assert "أرمينية" not in surfaces  # "قوات أرمينية" (Armenian forces) in seed 000


# --- proclitics ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sentence", "surface", "canonical"), [
    ("دعت روسيا أرمينيا وأذربيجان إلى الحوار", "أذربيجان", "Q227"),
    ("طالبت باريس باجتماع طارئ لمجلس الأمن الدولي", "مجلس الأمن الدولي", "Q37470"),
    ("اندلع القتال بكاراباخ صباح اليوم", "كاراباخ", "rasd:loc:nagorno-karabakh"),
    ("اتصلت فرنسا والولايات المتحدة بالطرفين", "الولايات المتحدة", "Q30"),
    ("وصل الوفد إلى طرابلس وبالخرطوم", "الخرطوم", "rasd:loc:khartoum"),
    ("وقال فبوتين لم يعلق", "بوتين", "Q7747"),
])
def test_attached_proclitics_are_left_out_of_the_mention(gazetteer: Gazetteer, sentence: str, surface: str,
                                                          canonical: str) -> None:
    """و ف ب ل ك (and clusters like وب) are attached in Arabic; the mention starts after them."""
    text = display_form(sentence)
    ents = _extract(sentence, gazetteer)
    hit = next(e for e in ents if e.canonical == canonical)
    assert hit.text == surface
    assert text[hit.start:hit.end] == surface


def test_lam_plus_article_keeps_the_lam(gazetteer: Gazetteer) -> None:
    """ل + ال contracts to لل: "للأمم المتحدة" is the United Nations; the surface keeps the لل
    since "الأمم" does not occur in the text to point at."""
    ents = _extract("دعت فرنسا إلى اجتماع عاجل للأمم المتحدة", gazetteer)
    un = next(e for e in ents if e.canonical == "Q1065")
    assert un.text == "للأمم المتحدة"


# --- word boundaries, ambiguity, adjectives --------------------------------------------------


@pytest.mark.parametrize("sentence", [
    "التقى الرئيسان في باكوريا الجديدة",  # باكو inside a longer word
    "قرأ الطالب كتابا عن المغربية",  # nisba only
    "أشاد الوفد بالمحادثات الأرمينية الأذربيجانية",
    "تبادل الحضور الصور التذكارية",  # صور (Tyre) as the common word "pictures"
    "قدم المحامي حجة قوية أمام المحكمة",  # حجة (Hajjah) as "argument"
    "شددت الوزيرة على النيل من الخصوم",  # النيل as "undermining"
])
def test_no_match_inside_words_or_on_common_words(gazetteer: Gazetteer, sentence: str) -> None:
    """Place names that are substrings of longer words, adjectives or common words are not places."""
    assert [e for e in _extract(sentence, gazetteer) if e.type == "LOC"] == []


def test_nisba_flag_reports_adjectives(gazetteer: Gazetteer) -> None:
    """With nisba=True the adjective is a (lower-confidence) mention of the country."""
    sentence = "قصفت المدفعية الأرمينية مواقع على الحدود"
    assert not _extract(sentence, gazetteer)
    ents = _extract(sentence, gazetteer, nisba=True)
    assert [(e.text, e.canonical) for e in ents] == [("الأرمينية", "Q399")]
    assert ents[0].confidence < 0.85


# --- people ----------------------------------------------------------------------------------


def test_short_form_links_to_full_name(gazetteer: Gazetteer) -> None:
    """An unknown person found from a title ("قائد اللواء 444 محمود حمزة") is later "حمزة" alone."""
    ents = _extract("احتجز جهاز الردع قائد اللواء 444 محمود حمزة في المطار. ثم أفرج عن حمزة مساء.", gazetteer)
    people = [e for e in ents if e.type == "PERSON"]
    assert [e.text for e in people] == ["محمود حمزة", "حمزة"]
    assert people[0].canonical == people[1].canonical == "rasd:person:محمود-حمزه"
    assert people[1].confidence < people[0].confidence


def test_short_form_of_a_known_person(gazetteer: Gazetteer) -> None:
    """"ميشال" after "شارل ميشال" is Charles Michel, with the gazetteer's canonical id."""
    ents = _extract("دعا رئيس المجلس الأوروبي شارل ميشال إلى الحوار. وكتب ميشال في منشور", gazetteer)
    michel = [e for e in ents if e.canonical == "rasd:person:charles-michel"]
    assert [e.text for e in michel] == ["شارل ميشال", "ميشال"]


# --- English ---------------------------------------------------------------------------------


def test_english_sentence(gazetteer: Gazetteer) -> None:
    """English aliases match case-insensitively on the matching form, capitalised in the text."""
    text = ("WASHINGTON - The United States urged Serbia on Friday to pull back troops, White House "
            "spokesman John Kirby said, as NATO and the UN watched Kosovo.")
    ents = _extract(text, gazetteer, language="en")
    got = {(e.text, e.type, e.canonical) for e in ents}
    assert ("WASHINGTON", "LOC", "Q61") in got
    assert ("United States", "LOC", "Q30") in got
    assert ("White House", "ORG", "rasd:org:white-house") in got
    assert ("John Kirby", "PERSON", "rasd:person:john-kirby") in got
    assert ("NATO", "ORG", "Q7184") in got
    assert ("UN", "ORG", "Q1065") in got
    for e in ents:
        assert display_form(text)[e.start:e.end] == e.text


@pytest.mark.parametrize("sentence", [
    "We ate turkey and chased the jordan of the river with us.",
    "The georgia peach was not in chad's basket.",
])
def test_english_lowercase_common_words_are_not_places(gazetteer: Gazetteer, sentence: str) -> None:
    """"turkey" the bird and the pronoun "us" are not Turkey and the US."""
    assert _extract(sentence, gazetteer, language="en") == []


# --- coverage ----------------------------------------------------------------------------------

# The 193 UN member states and the two observer states, by the canonical English name the data uses.
UN_STATES = (Path(__file__).resolve().parents[1] / "data" / "un_states.txt").read_text(encoding="utf-8").splitlines()


def test_every_un_member_and_observer_state_has_arabic_and_english_aliases(gazetteer: Gazetteer) -> None:
    """Alert consumers filter by country: no UN member or observer state may be missing."""
    assert len(UN_STATES) == 195
    by_name = {e.name: e for e in gazetteer.entries if e.type == "LOC"}
    missing = [name for name in UN_STATES if name not in by_name]
    assert not missing
    assert all(by_name[name].ar and by_name[name].en for name in UN_STATES)


@pytest.mark.parametrize(("sentence", "name"), [
    ("أعلنت مصر وغامبيا وبنما استئناف العلاقات", "Gambia"),
    ("وصل الوزير إلى داكار قادما من أبوجا", "Dakar"),
    ("قصفت المسيرات مدينة إيفانو فرانكيفسك", "Ivano-Frankivsk"),
    ("زار البابا الفاتيكان", "Holy See"),
])
def test_new_countries_and_capitals_are_found(gazetteer: Gazetteer, sentence: str, name: str) -> None:
    """Countries and capitals added for full coverage are found through their Arabic aliases."""
    assert name in {e.name for e in _extract(sentence, gazetteer)}


