"""``bench.dedup_scale`` must fill the index through the path a worker uses, or its bytes and times say nothing.

The index it fills must be a working index: a copy of an article it holds is found as a duplicate (through the
exact keys and through the LSH bands), and an index recovered from the filled ``docs`` mapping — what a restarted
worker rebuilds — decides every article as the filled one does.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.dedup_scale import build_pool, fill, probe_articles, variant
from schemas.models import NormalizedArticle
from services.deduplicator.core import NEXT_KEY, DedupConfig, DedupIndex

SIZE = 500


@pytest.fixture(scope="module")
def pool() -> dict[str, Any]:
    return build_pool(120, 20)


@pytest.fixture(scope="module")
def articles() -> list[NormalizedArticle]:
    """The articles the pool's templates were made from (same generator, same seed)."""
    from bench.articles import generate
    from bench.dedup import normalize

    return normalize(generate(120, seed=7))


def filled(pool: dict[str, Any]) -> tuple[DedupIndex, float]:
    index = DedupIndex(DedupConfig())
    last = fill(index, pool["templates"], SIZE)
    return index, last


def test_fill_indexes_every_article_with_its_buckets(pool: dict[str, Any]) -> None:
    index, _ = filled(pool)
    assert index.indexed == SIZE
    assert index.docs[NEXT_KEY] == SIZE == index.buckets.next
    assert len(index.buckets.queue) == SIZE
    originals = sum("w" in doc for key, doc in index.docs.items() if key != NEXT_KEY)
    assert index.buckets.originals == originals > SIZE // 2
    # Variants are distinct articles: their exact keys and most of their bands are their own.
    assert len(index.buckets.exact_map()) > 0.8 * SIZE
    assert len(index.buckets.band_map()) > 10 * originals


def test_copies_of_indexed_articles_are_duplicates(pool: dict[str, Any], articles: list[NormalizedArticle]) -> None:
    index, last = filled(pool)
    original = next(a for a in articles if "d" not in index.docs[a.id])
    exact = index.check(original.model_copy(update={"id": "again"}), now=last + 1)
    assert (exact.status, exact.kind, exact.duplicate_of) == ("duplicate", "exact", original.id)
    words = original.match_text.split(" ")
    edited = " ".join(["تعديل" if i == len(words) // 2 else w for i, w in enumerate(words)])
    near = index.check(original.model_copy(update={"id": "edited", "text": edited, "match_text": edited}),
                       now=last + 2)
    assert (near.status, near.kind, near.duplicate_of) == ("duplicate", "near", original.id)


def test_variants_keep_their_roots_bands() -> None:
    """A near-copy's variant lands in its root variant's band buckets, as copies do in the stream."""
    config = DedupConfig()
    root = {"t": 0.0, "p": 0, "n": 0, "x": "0" * 16, "g": "AAAB" * 20, "w": "", "e": [], "l": "ar"}
    copy_doc = {**root, "n": 1, "d": "root", "k": "near", "x": "1" * 16}
    _, fa, _ = variant("root", root, 3, config)
    copy_id, fb, verdict = variant("copy", copy_doc, 3, config)
    assert copy_id == "copy~3" and verdict.duplicate_of == "root~3"
    assert fa.bands == fb.bands and fa.signature != variant("root", root, 0, config)[1].signature


def test_recovered_index_decides_as_the_filled_one(pool: dict[str, Any], articles: list[NormalizedArticle]) -> None:
    index, last = filled(pool)
    recovered = DedupIndex(DedupConfig(), copy.deepcopy(index.docs))
    assert recovered.sync()
    assert recovered.buckets.band_map() == index.buckets.band_map()
    assert recovered.buckets.stories == index.buckets.stories
    assert recovered.buckets.df == index.buckets.df
    assert recovered.buckets.exact_map() == index.buckets.exact_map()
    probes = probe_articles(pool) + [a.model_copy(update={"id": f"{a.id}-copy"}) for a in articles[:20]]
    for i, article in enumerate(probes):
        now = last + 1 + i
        assert recovered.check(article, now=now) == index.check(article, now=now)
