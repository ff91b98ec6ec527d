"""Unit tests for the entities stage's functional core (gazetteer + extraction)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from schemas.models import Entity
from services.entities.core import Gazetteer, GazetteerError, extract_entities
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


def test_ambiguous_place_accepted_with_a_place_cue_or_in_a_list(gazetteer: Gazetteer) -> None:
    """"حجة" is Hajjah after "محافظة" or next to other places; otherwise it is a common word."""
    ents = _extract("استهدفت الغارات محافظة حجة", gazetteer)
    assert [e.text for e in ents if e.canonical == "rasd:loc:hajjah"] == ["حجة"]
    ents = _extract("غارات على صنعاء والحديدة وتعز وحجة", gazetteer)
    assert {"rasd:loc:taiz", "rasd:loc:hajjah", "Q2471", "rasd:loc:hodeidah"} <= {e.canonical for e in ents}


def test_an_ambiguous_place_read_once_is_read_throughout_the_article(gazetteer: Gazetteer) -> None:
    """One sense per discourse: once "مدينة الأبيض" says that الأبيض is El Obeid, the headline's "سوق الأبيض"
    is El Obeid too (the headline is where story grouping and alerts look first).  Without any cue the word
    stays a colour, and the White House keeps its own name."""
    obeid = "rasd:loc:el-obeid"
    ents = _extract("مسيرات تضرب سوق الأبيض\nقتل 20 مدنيا في مدينة الأبيض عاصمة ولاية شمال كردفان", gazetteer)
    assert [e.text for e in ents if e.canonical == obeid] == ["الأبيض", "الأبيض"]
    assert not [e for e in _extract("مسيرات تضرب سوق الأبيض\nارتدى اللاعبون القميص الأبيض", gazetteer)
                if e.canonical == obeid]
    ents = _extract("قال البيت الأبيض إن مسيرات ضربت مدينة الأبيض", gazetteer)
    assert [e.canonical for e in ents] == ["rasd:org:white-house", obeid]


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
    people = [e for e in _extract(sentence, gazetteer) if e.type == "PERSON"]
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
    people = [e.text for e in _extract(sentence, gazetteer) if e.type == "PERSON"]
    assert people in ([], ["شارل ميشال"])


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


def test_english_title_introduces_person(gazetteer: Gazetteer) -> None:
    """"regional governor Oleh Kiper" -> a person, and "Kiper" alone later is the same one."""
    text = "Odesa regional governor Oleh Kiper said 20 were killed. Kiper added that rescue work continued."
    people = [e for e in _extract(text, gazetteer, language="en") if e.type == "PERSON"]
    assert [e.text for e in people] == ["Oleh Kiper", "Kiper"]
    assert people[0].canonical == people[1].canonical


# --- the loader ------------------------------------------------------------------------------

def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_packaged_gazetteer_is_large_and_valid(gazetteer: Gazetteer) -> None:
    """The packaged data loads without errors and covers several hundred entities."""
    assert len(gazetteer) >= 400
    assert {e.type for e in gazetteer.entries} == {"PERSON", "ORG", "LOC"}


def test_loader_rejects_duplicate_ids(tmp_path: Path) -> None:
    """Two lines with one id are a data error, even across files."""
    a = _write(tmp_path / "a.jsonl", [{"id": "Q1", "type": "LOC", "name": "A", "ar": ["ألف"]}])
    b = _write(tmp_path / "b.jsonl", [{"id": "Q1", "type": "LOC", "name": "B", "ar": ["باء"]}])
    with pytest.raises(GazetteerError, match="duplicate id"):
        Gazetteer.load([a, b])


@pytest.mark.parametrize("row", [
    {"id": "Q1", "type": "PLACE", "name": "A", "ar": ["ألف"]},
    {"id": "Q1", "type": "LOC", "name": "A"},
    {"id": "", "type": "LOC", "name": "A", "ar": ["ألف"]},
    {"id": "Q1", "type": "LOC", "name": "A", "ar": "ألف"},
    {"id": "Q1", "type": "LOC", "name": "A", "ar": ["ألف"], "colour": "red"},
])
def test_loader_rejects_malformed_entries(tmp_path: Path, row: dict[str, object]) -> None:
    """Unknown types, missing aliases, empty ids, wrong field shapes and unknown fields fail loudly."""
    with pytest.raises(GazetteerError):
        Gazetteer.load([_write(tmp_path / "bad.jsonl", [row])])


def test_loader_rejects_alias_claimed_by_two_entities(tmp_path: Path) -> None:
    """One alias (after normalisation: أ = ا) cannot name two different entities."""
    path = _write(tmp_path / "c.jsonl", [
        {"id": "Q1", "type": "LOC", "name": "A", "ar": ["أرض"]},
        {"id": "Q2", "type": "ORG", "name": "B", "ar": ["ارض"]},
    ])
    with pytest.raises(GazetteerError, match="claimed by both"):
        Gazetteer.load([path])


def test_loader_accepts_custom_files(tmp_path: Path) -> None:
    """A small custom gazetteer works end to end."""
    path = _write(tmp_path / "g.jsonl", [{"id": "rasd:loc:x", "type": "LOC", "name": "Xville",
                                          "ar": ["إكسفيل"], "en": ["Xville"]}])
    gaz = Gazetteer.load([path])
    ents = _extract("وصل الوفد إلى إكسفيل", gaz)
    assert [(e.text, e.name) for e in ents] == [("إكسفيل", "Xville")]


# --- coverage, facilities and organisations from context ---------------------------------------

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


@pytest.mark.parametrize(("sentence", "place"), [
    ("استهدف الهجوم محطة دنيبرو الكهرومائية", "دنيبرو"),
    ("تضرر سد مأرب بعد السيول", "مأرب"),
    ("Russia struck the Kakhovka Dam overnight", "Kakhovka"),
])
def test_place_inside_a_facility_name_is_not_a_place(gazetteer: Gazetteer, sentence: str, place: str) -> None:
    """A place name directly after محطة/سد/... (or before Dam/Plant...) names a facility, not the place."""
    assert place not in {e.text for e in _extract(sentence, gazetteer, "en" if sentence.isascii() else "ar")
                         if e.type == "LOC"}


def test_university_named_after_a_city_is_an_organisation(gazetteer: Gazetteer) -> None:
    """"جامعة طرابلس" is the University of Tripoli (ORG), built from the city's canonical name."""
    ents = _extract("أغلقت جامعة طرابلس أبوابها بسبب الاشتباكات", gazetteer)
    assert [(e.text, e.type, e.name) for e in ents] == [("جامعة طرابلس", "ORG", "University of Tripoli")]


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
    ents = _extract(sentence, gazetteer, "en" if sentence.isascii() else "ar")
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
    assert not [e for e in _extract(sentence, gazetteer, "en" if sentence.isascii() else "ar") if e.type == "ORG"]
