"""The packaged gazetteer, loaded once per process for every stage that reads it, and two facts about
its places that story grouping and alerts need.

The deduplicator (story profiles) and the alerter (places contained in places) use the entities
service's gazetteer read-only; with the GeoNames knowledge base loading it takes ~1.6 s and ~100 MB (measured
2026-12-07), so a worker process holds one.
"""

from __future__ import annotations

from functools import cache

from .gazetteer import DATA_DIR, Gazetteer


@cache
def default_gazetteer() -> Gazetteer:
    """The gazetteer of the packaged data files (``services/entities/data``)."""
    return Gazetteer.load()


def _ids(name: str) -> frozenset[str]:
    """The ids listed in a ``data/`` file (the first word of each line that is not a comment)."""
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return frozenset(line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def capital_ids() -> frozenset[str]:
    """Capital cities (``data/capitals.txt``, built from GeoNames by ``scripts/build_capitals.py``): news
    names a government by its capital ("Baku vows…", "Washington urges…"), so a capital is weak evidence
    of where an event happened."""
    return _ids("capitals.txt")


@cache
def broad_region_ids() -> frozenset[str]:
    """Places spanning several countries (``data/broad_regions.txt``: continents, oceans, the Sahel…)."""
    return _ids("broad_regions.txt")
