"""``rasd alerts`` filters (:mod:`rasd.alert_filters`): severity, entity, place and language.

Why: a desk subscribes to what it covers ("high alerts about Sudan, in Arabic"); names arrive in
either script and any case, and a filter that misses a spelling silently drops the alert it wanted.
"""

from __future__ import annotations

import pytest

from rasd.alert_filters import AlertFilter, alias_index, normalise, passes, unknown
from schemas.models import Alert, AlertEntity
from services.entities.core import Gazetteer


def make_alert(severity: str = "high", language: str = "ar", entities: tuple[AlertEntity, ...] = ()) -> Alert:
    return Alert(alert_id="a", article_id="x", severity=severity, score=9.0, matches=[],  # type: ignore[arg-type]
                 entities=list(entities), title="t", snippet="", language=language, detected_at=0.0)


AZ = AlertEntity(canonical="Q227", name="Azerbaijan", type="LOC", mentions=["أذربيجان"])
PASH = AlertEntity(canonical="rasd:person:nikol-pashinyan", name="Nikol Pashinyan", type="PERSON",
                   mentions=["باشينيان"])
LOCAL = AlertEntity(canonical="rasd:person:ahmad-zaid", name="Ahmad Zaid", type="PERSON", mentions=["أحمد زيد"])
ALERT = make_alert(entities=(AZ, PASH, LOCAL))


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def aliases(gazetteer: Gazetteer) -> dict[str, frozenset[str]]:
    """The packaged gazetteer's names, as ``rasd alerts`` loads them."""
    return alias_index((e.id, (e.name, *e.ar, *e.en)) for e in gazetteer.entries)


@pytest.mark.parametrize(("flt", "expected"), [
    pytest.param(AlertFilter(), True, id="no-filter"),
    pytest.param(AlertFilter(min_severity="high"), True, id="min-high-on-high"),
    pytest.param(AlertFilter(entities=("Q227",)), True, id="canonical-id"),
    pytest.param(AlertFilter(entities=("q227",)), True, id="canonical-id-any-case"),
    pytest.param(AlertFilter(entities=("AZERBAIJAN",)), True, id="english-name-any-case"),
    pytest.param(AlertFilter(entities=("اذربيجان",)), True, id="arabic-name-other-hamza"),
    pytest.param(AlertFilter(entities=("Republic of Azerbaijan",)), True, id="gazetteer-alias"),
    pytest.param(AlertFilter(entities=("Pashinyan",)), True, id="person-short-alias"),
    pytest.param(AlertFilter(entities=("أحمد زيد",)), True, id="person-by-mention-not-in-gazetteer"),
    pytest.param(AlertFilter(entities=("Armenia",)), False, id="absent-entity"),
    pytest.param(AlertFilter(entities=("Armenia", "Baku", "Azerbaijan")), True, id="any-of-several"),
    pytest.param(AlertFilter(places=("Azerbaijan",)), True, id="place"),
    pytest.param(AlertFilter(places=("Pashinyan",)), False, id="a-person-is-not-a-place"),
    pytest.param(AlertFilter(languages=("AR",)), True, id="language"),
    pytest.param(AlertFilter(languages=("en",)), False, id="other-language"),
    pytest.param(AlertFilter(min_severity="high", entities=("Q227",), languages=("en",)), False,
                 id="all-flags-must-hold"),
])
def test_filters(flt: AlertFilter, expected: bool, aliases: dict[str, frozenset[str]]) -> None:
    """Each flag alone and combined, against an alert naming Azerbaijan, Pashinyan and a local person."""
    assert passes(ALERT, flt, aliases) is expected


@pytest.mark.parametrize(("severity", "minimum", "expected"), [
    ("low", "medium", False), ("medium", "medium", True), ("high", "medium", True), ("medium", "high", False),
])
def test_min_severity(severity: str, minimum: str, expected: bool) -> None:
    """Severity is ordered low < medium < high; the minimum is inclusive."""
    assert passes(make_alert(severity), AlertFilter(min_severity=minimum)) is expected


def test_without_gazetteer_names_still_match_the_alert_itself() -> None:
    """With no alias index, the alert's own canonical id, English name and mentions still match."""
    for query in ("Q227", "azerbaijan", "أذربيجان"):
        assert passes(ALERT, AlertFilter(entities=(query,)))
    assert not passes(ALERT, AlertFilter(entities=("Republic of Azerbaijan",)))


def test_normalise_ignores_case_hamza_and_spacing() -> None:
    """Names typed by people differ in hamza, taa marbuta, case and spaces from the gazetteer's."""
    assert normalise("  Nagorno   KARABAKH ") == normalise("nagorno karabakh")
    assert normalise("إدلب") == normalise("ادلب")
    assert normalise("قرة باغ") == normalise("قره باغ")


def test_unknown_severity_is_rejected() -> None:
    """A typo in --min-severity must fail, not silently let everything (or nothing) through."""
    with pytest.raises(ValueError):
        AlertFilter(min_severity="urgent")


# --- places inside the place asked for ------------------------------------------------------------

KHAN_YOUNIS = AlertEntity(canonical="rasd:loc:khan-younis", name="Khan Younis", type="LOC", mentions=["خان يونس"])
SOUTH_LEBANON = AlertEntity(canonical="rasd:loc:south-lebanon", name="South Lebanon", type="LOC",
                            mentions=["جنوب لبنان"])
KHARKIV = AlertEntity(canonical="rasd:loc:kharkiv", name="Kharkiv", type="LOC", mentions=["خاركيف"])
LEBANON = AlertEntity(canonical="Q822", name="Lebanon", type="LOC", mentions=["لبنان"])
RED_SEA = AlertEntity(canonical="rasd:loc:red-sea", name="Red Sea", type="LOC", mentions=["البحر الأحمر"])


@pytest.mark.parametrize(("entity", "flt", "expected"), [
    pytest.param(KHAN_YOUNIS, AlertFilter(places=("Palestine",)), True, id="town-in-country"),
    pytest.param(KHAN_YOUNIS, AlertFilter(places=("Gaza Strip",)), True, id="town-in-territory"),
    pytest.param(KHAN_YOUNIS, AlertFilter(places=("قطاع غزة",)), True, id="territory-by-arabic-name"),
    pytest.param(KHAN_YOUNIS, AlertFilter(places=("Q219060",)), True, id="country-by-id"),
    pytest.param(KHAN_YOUNIS, AlertFilter(entities=("فلسطين",)), True, id="entity-flag-naming-a-place"),
    pytest.param(KHAN_YOUNIS, AlertFilter(places=("Israel",)), False, id="not-in-another-country"),
    pytest.param(KHAN_YOUNIS, AlertFilter(places=("West Bank",)), False, id="not-in-a-sibling-territory"),
    pytest.param(SOUTH_LEBANON, AlertFilter(places=("Lebanon",)), True, id="region-in-country"),
    pytest.param(SOUTH_LEBANON, AlertFilter(places=("لبنان",)), True, id="region-in-country-arabic"),
    pytest.param(SOUTH_LEBANON, AlertFilter(places=("Syria",)), False, id="region-not-in-neighbour"),
    pytest.param(KHARKIV, AlertFilter(places=("Ukraine",)), True, id="city-through-its-oblast"),
    pytest.param(LEBANON, AlertFilter(places=("South Lebanon",)), False, id="country-is-not-inside-its-region"),
    pytest.param(RED_SEA, AlertFilter(places=("Egypt",)), False, id="sea-is-in-no-country"),
])
def test_place_matches_the_places_inside_it(entity: AlertEntity, flt: AlertFilter, expected: bool,
                                             aliases: dict[str, frozenset[str]], gazetteer: Gazetteer) -> None:
    """A desk following a country or territory wants the alerts about its towns and regions too; containment
    only goes up (a country is not inside its own region) and never across to a neighbour."""
    assert passes(make_alert(entities=(entity,)), flt, aliases, gazetteer.containers) is expected


def test_containment_needs_the_gazetteer(aliases: dict[str, frozenset[str]], gazetteer: Gazetteer) -> None:
    """Without containers the filter is as before (the alert's own names only); with containers but no names, a
    container matches by its canonical id only."""
    alert = make_alert(entities=(KHAN_YOUNIS,))
    assert not passes(alert, AlertFilter(places=("Palestine",)), aliases)
    assert passes(alert, AlertFilter(places=("q219060",)), None, gazetteer.containers)
    assert not passes(alert, AlertFilter(places=("Palestine",)), None, gazetteer.containers)


def test_a_person_is_inside_no_place(aliases: dict[str, frozenset[str]], gazetteer: Gazetteer) -> None:
    """Containment is for places: an alert naming only a person does not pass a country's place filter."""
    alert = make_alert(entities=(PASH,))
    assert not passes(alert, AlertFilter(entities=("Armenia",)), aliases, gazetteer.containers)
    assert not passes(alert, AlertFilter(places=("Armenia",)), aliases, gazetteer.containers)


# --- names the gazetteer does not know: rasd alerts warns ---------------------------------------------------


def test_unknown_names_are_the_ones_the_gazetteer_lacks(aliases: dict[str, frozenset[str]],
                                                         gazetteer: Gazetteer) -> None:
    """A typo in --entity/--place filters out every alert silently; the subscriber is warned instead.  Ids,
    names in either script and any case are known; for --place only a place counts."""
    assert unknown(("q227", "اذربيجان", "Pashinyan", "Zelenskyy", "Azerbaijn", "أحمد زيد"), aliases) == [
        "Azerbaijn", "أحمد زيد"]
    places = {e.id for e in gazetteer.entries if e.type == "LOC"}
    assert unknown(("Lebanon", "Khan Younis", "Pashinyan", "Xqzvillex"), aliases, places.__contains__) == [
        "Pashinyan", "Xqzvillex"]


ZELENSKIY = AlertEntity(canonical="rasd:person:volodymyr-zelenskiy", name="Volodymyr Zelenskiy", type="PERSON",
                        mentions=["Volodymyr Zelenskiy", "Zelenskiy"])


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("Zelensky", True, id="gazetteer-spelling-vs-mention"),
    pytest.param("Zelenskyy", True, id="double-y"),
    pytest.param("Volodymyr Zelensky", True, id="full-name"),
    pytest.param("Zelenska", False, id="another-name"),
    pytest.param("Zelenskiy", True, id="same-spelling"),
])
def test_entity_filter_matches_spelling_variants(query: str, expected: bool,
                                                 aliases: dict[str, frozenset[str]]) -> None:
    """``rasd alerts --entity Zelensky`` finds an alert whose entity was written "Zelenskiy" (linked or not)."""
    alert = make_alert(entities=(ZELENSKIY,))
    assert passes(alert, AlertFilter(entities=(query,)), aliases) is expected
    assert passes(alert, AlertFilter(entities=(query,))) is expected


def test_linked_variant_matches_by_id(aliases: dict[str, frozenset[str]]) -> None:
    """An entity the stage linked by variant carries the gazetteer's id, so the alias index finds it."""
    linked = AlertEntity(canonical="Q3874799", name="Volodymyr Zelensky", type="PERSON", mentions=["Zelenskiy"])
    assert passes(make_alert(entities=(linked,)), AlertFilter(entities=("Zelensky",)), aliases)
