"""Unit tests for the alerter's functional core (:mod:`services.alerter.core`).

Articles are built here from plain text with the shared text forms, so these
tests depend neither on the normalizer's core nor on any shared data set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from schemas.models import Alert, DedupVerdict, EnrichedArticle, Entity, EntityType
from services.alerter.core import CATEGORIES, Lexicon, LexiconError, alert_id, detect
from services.normalizer.textforms import display_form, matching_form

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))
NOW = 1_695_124_800.0  # 2023-09-19T12:00:00Z, the day of the Karabakh offensive


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


def make_article(content: str, *, article_id: str = "art-1", language: str = "ar",
                 status: str = "unique", published_at: str | None = None,
                 entities: Sequence[Entity] = ()) -> EnrichedArticle:
    """An enriched article whose first line is the headline, as the normalizer would emit it."""
    text = display_form(content)
    verdict = (DedupVerdict(status="duplicate", duplicate_of="orig-1", similarity=0.97, kind="near")
               if status == "duplicate" else DedupVerdict(status="unique", similarity=0.0))
    return EnrichedArticle(
        id=article_id, url=f"https://example.org/{article_id}", source="test-wire",
        title=text.split("\n", 1)[0], language=language, published_at=published_at,
        text=text, match_text=matching_form(text), ingested_at=NOW - 5, dedup=verdict,
        entities=list(entities),
    )


def run(content: str, lexicon: Lexicon, *, emit_low: bool = False, **kwargs: Any) -> Alert | None:
    return detect(make_article(content, **kwargs), lexicon=lexicon, now=NOW, emit_low=emit_low)


def assert_matches_consistent(alert: Alert, article_text: str) -> None:
    starts = [m.start for m in alert.matches]
    assert starts == sorted(starts)
    for m in alert.matches:
        assert 0 <= m.start < m.end <= len(article_text)
        assert m.term == article_text[m.start:m.end]
        assert m.category in CATEGORIES
        assert m.weight > 0


# --- the seeds -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_articles_raise_high_alerts(seed: Path, lexicon: Lexicon) -> None:
    """Both seeds report Azerbaijan's September 2023 offensive in Karabakh as it happens.

    Seed 000: the headline says "أذربيجان تهاجم", Armenia says Baku "شنت عملية برية" and Baku "أطلقت
    عملية عسكرية"; separatists "تقاوم الهجوم"; Paris asks for "اجتماع طارئ لمجلس الأمن".  Seed 002:
    Baku "ستواصل عمليتها" (headline), "شنت أذربيجان عملية عسكرية", "إراقة الدماء", "التطهير العرقي",
    an urgent Security Council meeting.  No casualty figure is given in either, but a *launched*
    military operation is active hostilities, which the severity policy ranks ``high`` (threats and
    meetings alone would be ``medium``).
    """
    article = make_article(seed.read_text(encoding="utf-8"), article_id=seed.stem)
    alert = detect(article, lexicon=lexicon, now=NOW)
    assert alert is not None
    assert alert.severity == "high"
    categories = {m.category for m in alert.matches}
    assert "military_operation" in categories
    assert "emergency_diplomacy" in categories
    assert_matches_consistent(alert, article.text)
    assert alert.snippet and len(alert.snippet) <= 280
    assert alert.article_id == seed.stem and alert.alert_id == alert_id(seed.stem)
    assert alert.detected_at == NOW and alert.language == "ar"
    assert alert.title == article.title and alert.url == article.url and alert.source == "test-wire"


def test_historical_sentence_in_seed_is_discounted(lexicon: Lexicon) -> None:
    """Seed 002 recalls the 2020 war ("وفي 27 سبتمبر/ أيلول 2020، أطلق جيش أذربيجان عملية"):
    that sentence is history, so its "معارك ضارية" must not be reported as a contributing match."""
    seed = next(p for p in SEEDS if p.stem.startswith("002"))
    article = make_article(seed.read_text(encoding="utf-8"))
    alert = detect(article, lexicon=lexicon, now=NOW)
    assert alert is not None
    assert "معارك ضارية" not in {m.term for m in alert.matches}


# --- positives ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "language", "severity"), [
    pytest.param(
        "غارات جوية تقتل 12 مدنيا في ريف إدلب\n"
        "قتل 12 مدنيا على الأقل وأصيب آخرون في غارات جوية استهدفت بلدات في ريف إدلب الجنوبي فجر اليوم، "
        "وقال الدفاع المدني إن القصف طال منازل وسوقا شعبيا.",
        "ar", "high", id="ar-airstrikes-with-casualties"),
    pytest.param(
        "الجيش يشن هجوما بريا واسعا على مواقع المتمردين\n"
        "شن الجيش فجر اليوم هجوما بريا واسعا مدعوما بالطيران الحربي على مواقع المتمردين شمال المدينة، "
        "وأفاد سكان بسماع دوي انفجارات عنيفة وقصف مدفعي متواصل.",
        "ar", "high", id="ar-launched-ground-offensive"),
    pytest.param(
        "اشتباكات بين فصيلين مسلحين في مدينة الزاوية\n"
        "اندلعت اشتباكات مسلحة مساء الأحد بين فصيلين في مدينة الزاوية غرب العاصمة، واستمرت عدة ساعات "
        "قبل أن تتدخل وساطات محلية.",
        "ar", "medium", id="ar-clashes-without-casualties"),
    pytest.param(
        "حشود عسكرية على الحدود وتحذيرات من حرب شاملة\n"
        "أعلنت الحكومة التعبئة العامة ورفعت حالة التأهب، بعد رصد حشود عسكرية كبيرة على الحدود الشمالية.",
        "ar", "medium", id="ar-mobilisation-threat"),
    pytest.param(
        "Airstrikes kill at least 30 in Gaza as fighting intensifies\n"
        "Airstrikes killed at least 30 people overnight in the southern Gaza Strip, health officials said, "
        "as heavy fighting continued around Khan Younis.",
        "en", "high", id="en-airstrikes-killed"),
    pytest.param(
        "Russia launches ground offensive in Kharkiv region\n"
        "Russian forces launched a ground offensive across the border into the Kharkiv region on Friday, "
        "with heavy shelling of frontline villages, Ukrainian officials said.",
        "en", "high", id="en-ground-offensive"),
    pytest.param(
        "Serbia puts army on high alert amid troop build-up near Kosovo\n"
        "Serbia ordered its army to the highest level of combat readiness and a military build-up along "
        "the boundary, raising fears of a wider confrontation.",
        "en", "medium", id="en-build-up"),
])
def test_escalations_alert_with_expected_severity(content: str, language: str, severity: str,
                                                  lexicon: Lexicon) -> None:
    """Current hostilities with casualties or a launched offensive are ``high``; clashes without
    casualties, mobilisation and threats are ``medium``."""
    article = make_article(content, language=language)
    alert = detect(article, lexicon=lexicon, now=NOW)
    assert alert is not None
    assert alert.severity == severity
    assert_matches_consistent(alert, article.text)


@pytest.mark.parametrize(("content", "language"), [
    pytest.param("مجلس الأمن يعقد جلسة طارئة بشأن التوتر على الحدود\n"
                 "يعقد مجلس الأمن الدولي اجتماعا طارئا مساء اليوم بطلب من فرنسا لبحث التوتر المتصاعد "
                 "على الحدود بين البلدين.", "ar", id="ar"),
    pytest.param("UN Security Council to hold emergency meeting on border tensions\n"
                 "The Security Council will hold an emergency meeting on Monday at the request of France "
                 "to discuss rising tensions on the border, diplomats said.", "en", id="en"),
])
def test_emergency_security_council_meeting_alone_is_medium(content: str, language: str,
                                                            lexicon: Lexicon) -> None:
    """An emergency Security Council meeting signals a crisis, but without reported fighting it is
    diplomacy around a threat: ``medium``, not ``high``."""
    alert = run(content, lexicon, language=language)
    assert alert is not None
    assert alert.severity == "medium"
    assert {m.category for m in alert.matches} == {"emergency_diplomacy"}


def test_attached_proclitics_and_accusative_are_matched(lexicon: Lexicon) -> None:
    """Arabic glues conjunctions, prepositions and the article to the word (وبالقصف، والغارات، للاشتباكات)
    and adds the accusative alef (هجوما بريا): all must still match, with offsets on the surface word."""
    content = ("تصعيد في الجنوب\nوتواصلت الاشتباكات العنيفة وبالقصف المدفعي، والغارات الجوية طالت القرى، "
               "بعدما شنت القوات هجوما بريا على البلدة.")
    article = make_article(content)
    alert = detect(article, lexicon=lexicon, now=NOW)
    assert alert is not None
    terms = {m.term for m in alert.matches}
    assert "الاشتباكات العنيفة" in terms
    assert "هجوما بريا" in terms
    assert "والغارات الجوية" in terms
    assert "وبالقصف المدفعي" in terms
    assert_matches_consistent(alert, article.text)


def test_english_is_case_insensitive_with_word_boundaries(lexicon: Lexicon) -> None:
    """"SHELLING" matches regardless of case, while "Coupon" and "unkilled" must not match coup/killed."""
    article = make_article("Heavy SHELLING hits Kherson, nine killed\nCoupon sales unaffected; unkilled "
                           "reporters safe. Shelling continued overnight and nine people were killed.",
                           language="en")
    alert = detect(article, lexicon=lexicon, now=NOW)
    assert alert is not None
    terms = {m.term.lower() for m in alert.matches}
    assert "shelling" in terms and "killed" in terms
    assert not any("coup" in t or "unkilled" in t for t in terms)
    assert_matches_consistent(alert, article.text)


# --- negatives ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "language"), [
    pytest.param(
        "الأهلي يشن هجوما كاسحا ويسحق الزمالك بثلاثية\n"
        "شن لاعبو الأهلي هجوما مكثفا على مرمى المنافس منذ بداية المباراة، وسجل المهاجم الهدف الثالث من "
        "ضربة جزاء في الدقيقة 80، ليعزز الفريق صدارته لجدول الدوري.",
        "ar", id="ar-football-attack-penalty"),
    pytest.param(
        "Arsenal launch relentless attack to thrash rivals in derby\n"
        "Arsenal launched a relentless attack from kick-off and the striker scored twice before the "
        "break. The manager said the match was a massacre for the visitors' confidence as the club "
        "went top of the league.",
        "en", id="en-football-attack-massacre"),
    pytest.param(
        "انطلاق مناورات عسكرية مشتركة بالذخيرة الحية\n"
        "انطلقت اليوم تدريبات عسكرية مشتركة تحاكي صد هجوم بري وتنفيذ غارات جوية على أهداف افتراضية، "
        "ضمن تمرين سنوي يستمر أسبوعين، وأكد المنظمون أن المناورات لا تستهدف أي طرف.",
        "ar", id="ar-drills"),
    pytest.param(
        "NATO begins its largest military exercise in decades\n"
        "Some 90,000 troops will rehearse repelling an offensive and conducting airstrikes during the "
        "exercise, which runs until May.",
        "en", id="en-drills"),
    pytest.param(
        "ذكرى حرب أكتوبر\n"
        "في عام 1973 شن الجيش المصري هجوما واسعا وعبر قناة السويس، وسقط آلاف القتلى في معارك عنيفة "
        "استمرت أسابيع.",
        "ar", id="ar-history"),
    pytest.param(
        "Remembering Srebrenica\n"
        "In 1995, Bosnian Serb forces killed more than 8,000 men and boys in the massacre at Srebrenica.",
        "en", id="en-history"),
    pytest.param(
        "الجيش ينفي شن غارات على مواقع مدنية\n"
        "نفى الجيش اليوم تقارير عن شن غارات جوية على قرى في الشمال، وقال المتحدث إن القوات لم تنفذ "
        "أي قصف في المنطقة.",
        "ar", id="ar-denial"),
    pytest.param(
        "وزير الدفاع: سنرد بقوة إذا تعرضنا لهجوم\n"
        "قال الوزير إنه في حال تعرضت البلاد لهجوم عسكري فإن الرد سيكون قاسيا، وإذا شن العدو غارات فإن "
        "الجيش مستعد.",
        "ar", id="ar-hypothetical"),
    pytest.param(
        "زلزال قوي يضرب جنوب تركيا ومقتل 300 شخص\n"
        "ضرب زلزال بقوة 7 درجات جنوب تركيا فجر اليوم، ما أدى إلى مقتل 300 شخص وإصابة الآلاف، وقالت "
        "السلطات إن عدد القتلى مرشح للارتفاع مع استمرار عمليات الإنقاذ تحت الأنقاض.",
        "ar", id="ar-earthquake"),
    pytest.param(
        "Floods kill dozens in Libya's east\n"
        "Flash floods killed at least 60 people and left hundreds missing after a storm hit the coast.",
        "en", id="en-floods"),
    pytest.param(
        "Trade war escalates as new tariffs take effect\n"
        "The trade war between the two economies escalated on Monday as tariffs on steel took effect.",
        "en", id="en-trade-war"),
    pytest.param(
        "اتفاق لوقف إطلاق النار بين الطرفين بوساطة قطرية\n"
        "أعلن الوسطاء التوصل إلى اتفاق لوقف إطلاق النار يبدأ سريانه منتصف الليل، ورحبت الأمم المتحدة "
        "بالاتفاق.",
        "ar", id="ar-ceasefire-is-not-gunfire"),
    pytest.param(
        "أسعار النفط ترتفع مع تصاعد المخاوف في المنطقة\n"
        "ارتفعت أسعار النفط بنسبة 2 في المئة بعد هجمات على ناقلات، وقال محللون إن الأسواق تترقب.",
        "ar", id="ar-economy-passing-mention"),
    pytest.param(
        "مقتل شاب في جريمة قتل بالقاهرة\n"
        "لقي شاب مصرعه طعنا في جريمة قتل بحي شبرا، وألقت الشرطة القبض على المتهم.",
        "ar", id="ar-crime-deaths-only"),
    pytest.param(
        "مصرع 12 شخصا في انقلاب حافلة جنوب البلاد\n"
        "لقي 12 شخصا حتفهم وأصيب 20 آخرون في حادث انقلاب حافلة على الطريق الصحراوي.",
        "ar", id="ar-bus-overturned-is-not-a-coup"),
    pytest.param(
        "رئيس الوزراء يشن هجوما حادا على المعارضة\n"
        "شن رئيس الوزراء هجوما حادا على أحزاب المعارضة في البرلمان، متهما إياها بعرقلة الإصلاحات.",
        "ar", id="ar-verbal-attack"),
    pytest.param(
        "Three killed in nightclub shooting\n"
        "Three people were killed and five wounded in a shooting outside a nightclub, police said.",
        "en", id="en-crime-deaths-only"),
])
def test_non_escalations_do_not_alert(content: str, language: str, lexicon: Lexicon) -> None:
    """Sport metaphors, drills, history, denials, hypotheticals, natural disasters, trade "wars",
    ceasefires, verbal "attacks", passing mentions in economy news and deaths in crime or road
    accidents use the vocabulary of war without reporting an escalation happening now."""
    assert run(content, lexicon, language=language) is None


def test_low_severity_only_when_asked(lexicon: Lexicon) -> None:
    """A weak, isolated signal is below the alert threshold; ``emit_low`` surfaces it as ``low``."""
    content = "الأمم المتحدة تعرب عن قلقها\nأعربت الأمم المتحدة عن قلقها من اشتباك محدود على الحدود."
    assert run(content, lexicon) is None
    low = run(content, lexicon, emit_low=True)
    assert low is not None and low.severity == "low"


def test_duplicates_never_alert(lexicon: Lexicon) -> None:
    """A republished copy of an alerting article must not alert again: the original already did."""
    content = SEEDS[0].read_text(encoding="utf-8")
    assert run(content, lexicon) is not None
    assert run(content, lexicon, status="duplicate") is None


def test_published_year_decides_what_is_history(lexicon: Lexicon) -> None:
    """"في سبتمبر 2023" is history for an article published in 2024 but news for one published in 2023."""
    content = ("تطورات في الإقليم\nفي سبتمبر 2023 شن الجيش عملية عسكرية واسعة وقصفا مدفعيا عنيفا أسفر "
               "عن مقتل 25 شخصا.")
    assert run(content, lexicon, published_at="2023-09-19T10:00:00Z") is not None
    assert run(content, lexicon, published_at="2024-05-11T10:00:00Z") is None


# --- alert fields ------------------------------------------------------------------------------------------

def test_alert_id_is_stable(lexicon: Lexicon) -> None:
    """Replays must not duplicate alerts: one article, one alert id, whenever it is processed."""
    assert alert_id("a-1") == alert_id("a-1")
    assert alert_id("a-1") != alert_id("a-2")
    content = SEEDS[0].read_text(encoding="utf-8")
    first = detect(make_article(content, article_id="a-1"), lexicon=lexicon, now=NOW)
    again = detect(make_article(content, article_id="a-1"), lexicon=lexicon, now=NOW + 3600)
    assert first is not None and again is not None
    assert first.alert_id == again.alert_id == alert_id("a-1")
    assert again.detected_at == NOW + 3600


def _entity(text: str, etype: EntityType, canonical: str, name: str, start: int) -> Entity:
    return Entity(text=text, type=etype, canonical=canonical, name=name,
                  start=start, end=start + len(text), confidence=0.9)


def test_entities_dedup_by_canonical_most_mentioned_first(lexicon: Lexicon) -> None:
    """Consumers filter alerts by people and places: one entry per canonical id, most mentioned first,
    organisations left out, at most eight."""
    content = "غارات جوية تقتل 12 مدنيا في إدلب\nقتل 12 مدنيا في غارات جوية على إدلب وقصف مدفعي على حماة."
    ents = [
        _entity("حماة", "LOC", "Q170295", "Hama", 70),
        _entity("إدلب", "LOC", "Q202164", "Idlib", 27),
        _entity("إدلب", "LOC", "Q202164", "Idlib", 55),
        _entity("الأمم المتحدة", "ORG", "Q1065", "United Nations", 0),
        *[_entity(f"قرية{i}", "LOC", f"Q9{i}", f"Village {i}", 80 + i) for i in range(10)],
    ]
    alert = detect(make_article(content, entities=ents), lexicon=lexicon, now=NOW)
    assert alert is not None
    assert [e.canonical for e in alert.entities][:2] == ["Q202164", "Q170295"]
    assert len(alert.entities) == 8
    assert len({e.canonical for e in alert.entities}) == 8
    assert all(e.type in ("PERSON", "LOC") for e in alert.entities)


STRIKES_AR = "غارات جوية وقصف مدفعي عنيف على حلب\n"
STRIKES_EN = "Air strikes and heavy shelling hit Aleppo\n"


@pytest.mark.parametrize(("content", "language", "toll"), [
    pytest.param(STRIKES_AR + "قتل 12 شخصا على الأقل وأصيب 40 في القصف على الأحياء السكنية.", "ar", 12,
                 id="ar-verb-then-number"),
    pytest.param(STRIKES_AR + "سقط 12 قتيلا و30 جريحا في القصف على الأحياء السكنية.", "ar", 12,
                 id="ar-number-then-noun-wounded-after-waw"),
    pytest.param(STRIKES_AR + "ارتفعت حصيلة القتلى في المدينة إلى 40 بعد ليلة من القصف.", "ar", 40,
                 id="ar-toll-rose-to"),
    pytest.param(STRIKES_AR + "أسفر القصف عن مقتل 7 مدنيين، وقتل 25 مقاتلا في الاشتباكات.", "ar", 25,
                 id="ar-largest-of-two"),
    pytest.param(STRIKES_EN + "At least 5 people were killed and 40 wounded in the strikes, officials said.", "en", 5,
                 id="en-wounded-figure-is-not-a-toll"),
    pytest.param(STRIKES_EN + "The strikes killed 1,200 people across the province, the monitor said.", "en", 1200,
                 id="en-thousands-separator"),
    pytest.param(STRIKES_EN + "Dozens were killed and 60 wounded, 10 km from the front line.", "en", None,
                 id="en-words-and-wounded-only"),
    pytest.param(STRIKES_EN + "Shelling killed 9 people on Monday. In 2016, 3000 people were killed in Aleppo.",
                 "en", 9, id="en-history-sentence-ignored"),
    pytest.param(STRIKES_EN + "The fighting killed civilians 3 days ago and casualties reached 80.", "en", None,
                 id="en-durations-and-untyped-casualties"),
])
def test_death_toll_is_the_largest_number_killed(content: str, language: str, toll: int | None,
                                                 lexicon: Lexicon) -> None:
    """``Alert.casualties`` lets the alerter update a story when its toll grows: the largest number next
    to a "dead" term (Arabic or English, after or before it), never one that belongs to the wounded, a
    date, a distance or a duration, nor one in a discounted (historical) sentence."""
    alert = run(content, lexicon, language=language, published_at="2024-05-11T10:00:00Z")
    assert alert is not None and alert.casualties == toll


def test_snippet_is_the_strongest_sentence_and_short(lexicon: Lexicon) -> None:
    """The snippet shows readers the sentence that carries the strongest evidence, capped at 280 chars."""
    long_tail = " وأضاف المتحدث أن الوضع الإنساني صعب للغاية" * 12
    content = ("تقرير ميداني\nوصل وفد إغاثة إلى المدينة صباح اليوم." + "\n"
               "وقتل 40 شخصا في قصف مدفعي عنيف وغارات جوية على الأحياء السكنية" + long_tail + ".")
    alert = run(content, lexicon)
    assert alert is not None
    assert alert.snippet.startswith("وقتل 40 شخصا")
    assert len(alert.snippet) <= 280


# --- lexicon -----------------------------------------------------------------------------------------------

def test_packaged_lexicon_covers_both_languages_and_all_categories(lexicon: Lexicon) -> None:
    """The shipped lexicon must load cleanly and cover every category in Arabic and in English."""
    assert len(lexicon) >= 250
    for lang in ("ar", "en"):
        assert {t.category for t in lexicon.terms if t.lang == lang} == CATEGORIES


def _write(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "lexicon.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows),
                    encoding="utf-8")
    return path


GOOD = {"term": "قصف", "lang": "ar", "category": "strikes_shelling", "weight": 2.0}


def test_loader_accepts_a_valid_file(tmp_path: Path) -> None:
    """A small valid lexicon loads and matches, so custom lexicons can be deployed."""
    path = _write(tmp_path, [GOOD, {"term": "shelling", "lang": "en", "category": "strikes_shelling",
                                    "weight": 3}])
    lex = Lexicon.load(path)
    assert len(lex) == 2
    assert run("قصف وقصف\nقصف عنيف على المدينة وقصف متواصل.", lex) is not None


@pytest.mark.parametrize("bad", [
    pytest.param({**GOOD, "category": "weather"}, id="unknown-category"),
    pytest.param({**GOOD, "weight": 0}, id="zero-weight"),
    pytest.param({**GOOD, "weight": -1.5}, id="negative-weight"),
    pytest.param({**GOOD, "weight": "2"}, id="string-weight"),
    pytest.param({**GOOD, "weight": float("nan")}, id="nan-weight"),
    pytest.param({**GOOD, "lang": "fr"}, id="unknown-lang"),
    pytest.param({**GOOD, "term": "  "}, id="blank-term"),
    pytest.param({"lang": "ar", "category": "casualties", "weight": 1.0}, id="missing-term"),
    pytest.param({**GOOD, "note": "x"}, id="unknown-field"),
    pytest.param("{not json", id="invalid-json"),
    pytest.param({**GOOD, "term": "القَصْف"}, id="duplicate-after-normalisation"),
    pytest.param(GOOD, id="exact-duplicate"),
    pytest.param({**GOOD, "term": "غارة", "toll": "dead"}, id="toll-on-a-term-that-is-no-casualty"),
    pytest.param({"term": "قتلى", "lang": "ar", "category": "casualties", "weight": 2.0, "toll": "missing"},
                 id="unknown-toll"),
])
def test_loader_rejects_bad_rows(bad: object, tmp_path: Path) -> None:
    """A bad row must fail loudly at start-up rather than silently weaken detection. Duplicates are
    compared in matching form (tashkeel, article and alef forms ignored), so "القَصْف" duplicates "قصف"."""
    with pytest.raises(LexiconError):
        Lexicon.load(_write(tmp_path, [GOOD, bad]))


# --- context categories defined in the lexicon file -----------------------------------------------------

TERMS_EN = [{"term": t, "lang": "en", "category": c, "weight": w} for t, c, w in [
    ("shelling", "strikes_shelling", 3.0), ("offensive", "military_operation", 3.0),
    ("killed", "casualties", 2.5), ("artillery", "strikes_shelling", 2.0),
]]
TERMS_EN[2]["toll"] = "dead"
CONTEXTS = [
    {"context": "calm", "sentence_factor": 0.1, "cancelled_by": ["broken"], "note": "a test context"},
    {"context": "broken"},
    {"context": "game", "sentence_factor": 0.5, "article_factor": 0.2, "cancelled_by": ["toll"]},
    {"term": "under the accord", "lang": "en", "category": "calm"},
    {"term": "violated", "lang": "en", "category": "broken"},
    {"term": "chess", "lang": "en", "category": "game"},
]
REPORT = ("Artillery shelling on the town\nThe army began an offensive with artillery and shelling on the town. "
          "Shelling went on at night.")


@pytest.fixture(scope="module")
def context_lexicon(tmp_path_factory: pytest.TempPathFactory) -> Lexicon:
    return Lexicon.load(_write(tmp_path_factory.mktemp("lex"), [*CONTEXTS, *TERMS_EN]))


def _score(content: str, lex: Lexicon) -> float:
    alert = run(content, lex, language="en", emit_low=True)
    return alert.score if alert else 0.0


def test_file_contexts_load_with_their_cues_apart_from_the_terms(context_lexicon: Lexicon, tmp_path: Path) -> None:
    """Context rows define how their cues act; the cues are not escalation terms (the lexicon's length and
    categories are the terms'), and a context may be defined after its cues in the file."""
    assert len(context_lexicon) == 4 and {t.category for t in context_lexicon.terms} < CATEGORIES
    assert [c.context for c in context_lexicon.cues] == ["calm", "broken", "game"]
    assert context_lexicon.contexts["calm"].sentence_factor == 0.1
    assert context_lexicon.contexts["calm"].cancelled_by == ("broken",)
    reordered = Lexicon.load(_write(tmp_path, [*TERMS_EN, *reversed(CONTEXTS)]))
    assert reordered.contexts == context_lexicon.contexts


def test_a_sentence_cue_damps_its_sentence_unless_negated_or_cancelled(context_lexicon: Lexicon) -> None:
    """"withdrew artillery under the accord" damps the terms of its sentence (×0.1) and only that
    sentence; "did not withdraw … under the accord" (a negation before the cue) or "violated the
    accord… under the accord" (a cancelling context in the sentence) leave it as it was."""
    plain = _score(REPORT, context_lexicon)
    calm = REPORT.replace("on the town. ", "on the town under the accord. ")
    assert _score(calm, context_lexicon) < plain * 0.7
    assert _score(calm, context_lexicon) > 0  # the other sentences still count
    negated = calm.replace("on the town under", "on the town, not under")
    assert _score(negated, context_lexicon) == pytest.approx(plain)
    cancelled = calm.replace("The army began", "The army violated the truce and began")
    assert _score(cancelled, context_lexicon) == pytest.approx(plain)


def test_an_article_factor_applies_to_a_framed_article_unless_a_toll_is_reported(context_lexicon: Lexicon) -> None:
    """A cue in the headline frames the whole article (×0.2 on every term, ×0.5 more in its own sentence);
    a sentence that reports a death toll in digits cancels the frame (the built-in ``toll`` context)."""
    plain = _score(REPORT, context_lexicon)
    framed = REPORT.replace("on the town\n", "on the town in chess\n")
    assert _score(framed, context_lexicon) < plain * 0.2
    deadly = framed.replace("Shelling went on at night.", "Shelling killed 12 people at night.")
    assert _score(deadly, context_lexicon) > plain


def test_a_context_cancelled_by_a_category_is_lifted_where_a_term_of_it_is_reported(tmp_path: Path) -> None:
    """"cancelled_by" may name a term category: heavy rain frames a report of deaths and an army deployment as
    weather news, but not one that also reports shelling — anywhere for the frame, in the sentence for the
    sentence."""
    lexicon = Lexicon.load(_write(tmp_path, [
        {"context": "rain", "sentence_factor": 0.1, "article_factor": 0.2, "cancelled_by": ["strikes_shelling"]},
        {"term": "heavy rain", "lang": "en", "category": "rain"}, *TERMS_EN]))
    flood = "Twelve killed as the army begins an offensive on the river town\nThe army began an offensive. 12 killed."
    plain = _score(flood, lexicon)
    framed = flood.replace("on the river town\n", "on the river town after heavy rain\n")
    assert _score(framed, lexicon) < plain * 0.25
    shelled = flood + " Shelling went on at night."
    framed_shelled = shelled.replace("on the river town\n", "on the river town after heavy rain\n")
    # Shelling in the body lifts the frame; the headline, where the cue is and no shelling, stays damped.
    assert _score(framed, lexicon) * 2 < _score(framed_shelled, lexicon) < _score(shelled, lexicon)
    in_headline = shelled.replace("on the river town\n", "and shelling on the river town\n")
    both = in_headline.replace("on the river town\n", "on the river town after heavy rain\n")
    assert _score(both, lexicon) == pytest.approx(_score(in_headline, lexicon))


@pytest.mark.parametrize("bad", [
    pytest.param({"context": "calm", "sentence_factor": 1.5}, id="factor-above-one"),
    pytest.param({"context": "calm", "article_factor": -0.1}, id="negative-factor"),
    pytest.param({"context": "calm", "sentence_factor": "0.1"}, id="string-factor"),
    pytest.param({"context": "calm", "sentence_factor": True}, id="bool-factor"),
    pytest.param({"context": "calm", "scope": "sentence"}, id="unknown-context-field"),
    pytest.param({"context": "calm", "cancelled_by": ["nowhere"]}, id="cancelled-by-undefined"),
    pytest.param({"context": "calm", "cancelled_by": ["strikes"]}, id="cancelled-by-not-a-category"),
    pytest.param({"context": "calm", "cancelled_by": "broken"}, id="cancelled-by-not-a-list"),
    pytest.param({"context": "calm", "cancelled_by": ["calm"]}, id="cancelled-by-itself"),
    pytest.param({"context": "casualties"}, id="context-named-like-a-category"),
    pytest.param({"context": "sport"}, id="context-named-like-a-built-in-cue"),
    pytest.param({"context": "toll"}, id="context-named-toll"),
    pytest.param({"context": "Calm down"}, id="context-name-not-a-word"),
    pytest.param({"context": "broken"}, id="context-defined-twice"),
    pytest.param({"term": "chess", "lang": "en", "category": "calm"}, id="cue-duplicates-a-cue"),
    pytest.param({"term": "shelling", "lang": "en", "category": "calm"}, id="cue-duplicates-a-term"),
    pytest.param({"term": "ceasefire", "lang": "en", "category": "calm"}, id="cue-duplicates-a-built-in-cue"),
    pytest.param({"term": "truce", "lang": "en", "category": "calm", "weight": 1.0}, id="cue-with-a-weight"),
    pytest.param({"term": "truce", "lang": "en", "category": "weather"}, id="cue-of-an-undefined-context"),
])
def test_loader_rejects_bad_context_rows(bad: dict[str, object], tmp_path: Path) -> None:
    """Context definitions and cues are validated like terms: a factor outside [0, 1), an unknown field,
    a name that is taken, a cancelling context that does not exist, a cue defined twice (or already a
    term or a built-in cue) or given a weight fail at start-up."""
    base = [*CONTEXTS, *TERMS_EN]
    if "context" in bad and bad["context"] == "calm":
        base = [r for r in base if r.get("context") != "calm"]
    with pytest.raises(LexiconError):
        Lexicon.load(_write(tmp_path, [*base, bad]))
