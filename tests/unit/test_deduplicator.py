"""The deduplicator core on real articles: copies are caught, different articles are not merged."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.models import NormalizedArticle
from services.deduplicator.core import DedupConfig, DedupIndex, fingerprint, similarity
from services.normalizer.textforms import display_form, matching_form

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SEED_000 = (SEEDS / "000_f95e305dd3dafc5c.txt").read_text(encoding="utf-8")
SEED_002 = (SEEDS / "002_e54ffb910fea662e.txt").read_text(encoding="utf-8")
DAY = 24 * 3600.0


def article(article_id: str, content: str) -> NormalizedArticle:
    """A normalized article built from text forms alone, so these tests depend only on the dedup core."""
    text = display_form(content).strip()
    text = "\n".join(line for line in text.split("\n") if line)
    return NormalizedArticle(
        id=article_id, title=text.split("\n", 1)[0], language="ar", text=text,
        match_text=matching_form(text), ingested_at=0.0,
    )


def near_copy_of_002() -> str:
    """A republished copy: a paragraph dropped, boilerplate changed, tashkeel and other digits added."""
    paragraphs = [p for p in SEED_002.split("\n") if p.strip()]
    del paragraphs[8]
    edited = [p.replace("شارك القصة", "اقرأ أيضاً").replace("2020", "٢٠٢٠").replace("عملية", "عمليّة")
              for p in paragraphs]
    return "\n".join(["نقلاً عن وكالات", *edited[:-3], "تابعونا على تيليغرام"])


@pytest.fixture
def index() -> DedupIndex:
    return DedupIndex(DedupConfig())


def test_two_articles_about_one_event_are_both_unique(index: DedupIndex) -> None:
    """Seeds 000 and 002 report the same offensive in different words: same story, not copies."""
    assert index.check(article("s000", SEED_000), now=0).status == "unique"
    assert index.check(article("s002", SEED_002), now=1).status == "unique"


def test_exact_copy_is_an_exact_duplicate(index: DedupIndex) -> None:
    """Whitespace, tashkeel, tatweel and digit forms do not hide a verbatim republication."""
    index.check(article("s002", SEED_002), now=0)
    restyled = SEED_002.replace("\n\n", "\n \n").replace("عملية", "عمليّـة").replace("2020", "٢٠٢٠")
    verdict = index.check(article("copy", restyled), now=1)
    assert (verdict.status, verdict.duplicate_of, verdict.kind, verdict.similarity) == (
        "duplicate", "s002", "exact", 1.0
    )


def test_near_copy_is_a_near_duplicate_of_the_original(index: DedupIndex) -> None:
    index.check(article("s000", SEED_000), now=0)
    index.check(article("s002", SEED_002), now=1)
    verdict = index.check(article("copy", near_copy_of_002()), now=2)
    assert verdict.status == "duplicate"
    assert verdict.duplicate_of == "s002"
    assert verdict.kind == "near"
    assert 0.6 <= verdict.similarity < 1.0


def test_copy_of_a_copy_points_at_the_earliest_article(index: DedupIndex) -> None:
    """``duplicate_of`` names the group's root, never another copy."""
    index.check(article("s002", SEED_002), now=0)
    index.check(article("copy1", near_copy_of_002()), now=1)
    verdict = index.check(article("copy2", near_copy_of_002() + "\nسطر إضافي في النهاية"), now=2)
    assert verdict.duplicate_of == "s002"


@pytest.mark.parametrize("content", [SEED_000, SEED_002])
def test_replay_gives_the_first_decision(index: DedupIndex, content: str) -> None:
    """Replaying an article id must not make it a duplicate of itself."""
    first = index.check(article("a", content), now=0)
    assert index.check(article("a", content), now=5) == first
    assert first.status == "unique"


def test_replay_of_a_duplicate_stays_a_duplicate(index: DedupIndex) -> None:
    index.check(article("s002", SEED_002), now=0)
    first = index.check(article("copy", near_copy_of_002()), now=1)
    assert index.check(article("copy", near_copy_of_002()), now=2) == first


def test_articles_outside_the_retention_window_are_forgotten() -> None:
    index = DedupIndex(DedupConfig(retention_s=14 * DAY))
    index.check(article("s002", SEED_002), now=0)
    assert index.check(article("late", SEED_002), now=15 * DAY).status == "unique"
    assert index.prune(now=15 * DAY) == 1
    assert "s002" not in index.docs


def test_state_restored_from_json_keeps_deciding_the_same() -> None:
    """Faust tables store the mappings as JSON; an index rebuilt from them (a restart) still finds copies."""
    before = DedupIndex(DedupConfig())
    before.check(article("s002", SEED_002), now=0)
    docs = orjson.loads(orjson.dumps(dict(before.docs)))
    bands = orjson.loads(orjson.dumps(dict(before.bands)))
    after = DedupIndex(DedupConfig(), docs=docs, bands=bands)
    assert after.check(article("copy", near_copy_of_002()), now=1).duplicate_of == "s002"


def test_state_per_article_is_small() -> None:
    """The per-article record (decision, time, packed signature) stays well under 1 KiB."""
    index = DedupIndex(DedupConfig())
    index.check(article("s002", SEED_002), now=0)
    assert len(orjson.dumps(index.docs["s002"])) < 1024


def test_signature_similarity_tracks_content_overlap() -> None:
    config = DedupConfig()
    a = fingerprint(article("a", SEED_002), config)
    b = fingerprint(article("b", near_copy_of_002()), config)
    c = fingerprint(article("c", SEED_000), config)
    assert similarity(a.signature, a.signature) == 1.0
    assert similarity(a.signature, b.signature) > 0.6 > similarity(a.signature, c.signature)


def test_bands_must_divide_permutations() -> None:
    with pytest.raises(ValueError, match="must divide"):
        DedupConfig(num_perm=128, bands=30)
