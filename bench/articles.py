"""Benchmark articles generated from the project's own seeds (``seeds/``) and test data (``tests/data/``).

Why generated: the repository holds three real articles, and a benchmark needs thousands of
*distinct* ones (identical bodies would all be copies and skip entities and alerter).  Each
generated article is built from the real paragraphs, so its language, length, boilerplate,
captions, names and escalation terms are those of real newsroom copy:

* a headline and 9–15 body paragraphs drawn from the pool, about 6 KB of JSON (Arabic UTF-8);
* about 30 % of the words of every paragraph replaced by other words of the pool, and a few
  numbers changed, so that two generated articles share few word 3-shingles (they are not
  near-duplicates of each other, as in a real feed);
* "calm" articles use only paragraphs in which the alerter finds nothing; "alerting" ones (a
  given share) add one to three paragraphs with escalation terms;
* a given share are **near-copies** of an earlier article (one paragraph dropped, boilerplate
  changed, a few words edited, a new id), as a syndicated story republished by another outlet.

What each article should produce is *not* guessed: :func:`expected` runs the same four cores
offline (``rasd process``'s :class:`OfflinePipeline`) and counts uniques, copies and alerts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from rasd.offline import OfflinePipeline
from schemas.codec import decode
from schemas.models import RawArticle
from services.alerter.core import Lexicon
from services.normalizer.core import parse_text_article

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "seeds", ROOT / "tests" / "data")
BOILERPLATE = ("شارك القصة", "تابعونا على وسائل التواصل الاجتماعي", "المصدر: وكالات", "اقرأ أيضاً")


@dataclass
class Pool:
    """Paragraphs of the real articles, and their words split by whether escalation terms use them."""

    paragraphs: list[str] = field(default_factory=list)
    alerting: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    hot: frozenset[str] = frozenset()


def load_pool() -> Pool:
    """Every distinct paragraph of the seeds and test data, and the words the alerter's lexicon uses."""
    lexicon = Lexicon.load()
    terms = [t.term for t in getattr(lexicon, "terms", [])]
    hot = frozenset(w.removeprefix("ال") for t in terms for w in t.split() if len(w.removeprefix("ال")) >= 3)
    pool = Pool(hot=hot)
    for directory in SOURCES:
        for path in sorted(directory.glob("*.txt")):
            body = parse_text_article(path.read_text(encoding="utf-8")).body
            for para in body.split("\n"):
                para = para.strip()
                if len(para) > 15 and para not in pool.paragraphs:
                    pool.paragraphs.append(para)
    probe = OfflinePipeline()
    pool.alerting = [p for p in pool.paragraphs if _alerts(probe, p)]
    pool.words = [w for p in pool.paragraphs for w in p.split() if len(w) > 2 and not _is_hot(w, hot)
                  and not any(ch.isdigit() for ch in w)]
    return pool


_HOT_CACHE: dict[str, bool] = {}


def _is_hot(word: str, hot: frozenset[str]) -> bool:
    """Does ``word`` contain a word of an escalation term (with any prefix)?  Memoised: it is called per word."""
    found = _HOT_CACHE.get(word)
    if found is None:
        found = _HOT_CACHE[word] = any(h in word for h in hot)
    return found


def _alerts(pipeline: OfflinePipeline, para: str) -> bool:
    """Would this paragraph alone raise an alert?"""
    raw = orjson.dumps({"id": "probe", "body": "عنوان\n\n" + para + "\n\n" + para})
    return pipeline.process(raw)["alert"] is not None


def _vary(para: str, rng: random.Random, pool: Pool, rate: float, *, calm: bool) -> str:
    """Replace a share of the words (and, for calm text, every escalation word) and change the numbers."""
    out = []
    for word in para.split():
        if any(ch.isdigit() for ch in word):
            out.append(str(rng.randint(2, 2999)))
        elif rng.random() < rate or (calm and _is_hot(word, pool.hot)):
            out.append(rng.choice(pool.words))
        else:
            out.append(word)
    return " ".join(out)


def _article(i: int, rng: random.Random, pool: Pool, alerting: bool, prefix: str) -> dict[str, str]:
    target = rng.randint(2600, 3600)  # body characters: ~5.5-7.5 KB of JSON with the Arabic UTF-8
    paras: list[str] = []
    if alerting:
        paras += [_vary(p, rng, pool, 0.1, calm=False) for p in rng.sample(pool.alerting, rng.randint(1, 3))]
    while sum(map(len, paras)) < target:
        paras.insert(rng.randrange(len(paras) + 1), _vary(rng.choice(pool.paragraphs), rng, pool, 0.3, calm=True))
    if rng.random() < 0.5:
        paras.insert(rng.randrange(len(paras)), rng.choice(BOILERPLATE))
    title = " ".join(_vary(rng.choice(pool.paragraphs), rng, pool, 0.5, calm=True).split()[:12])
    return {
        "id": f"{prefix}-{i:07d}",
        "source": rng.choice(("wire-a", "wire-b", "wire-c", "wire-d")),
        "url": f"https://news.example/{i}",
        "title": title,
        "body": "\n\n".join(paras),
        "published_at": "2024-09-19T10:00:00Z",
    }


def _near_copy(i: int, rng: random.Random, original: dict[str, str], pool: Pool, prefix: str) -> dict[str, str]:
    paras = original["body"].split("\n\n")
    if len(paras) > 4:
        paras.pop(rng.randrange(len(paras)))
    paras = [p for p in paras if p not in BOILERPLATE]
    paras.append(rng.choice(BOILERPLATE))
    edited = rng.randrange(len(paras))
    paras[edited] = _vary(paras[edited], rng, pool, 0.1, calm=False)
    return {**original, "id": f"{prefix}-{i:07d}", "url": f"https://other.example/{i}", "body": "\n\n".join(paras)}


def generate(
    n: int, *, seed: int = 7, copy_share: float = 0.12, alert_share: float = 0.3, prefix: str = "bench"
) -> list[bytes]:
    """``n`` raw article messages (JSON bytes, ids ``<prefix>-NNNNNNN``); copies follow their original by 20–200."""
    rng = random.Random(seed)
    pool = load_pool()
    made: list[dict[str, str]] = []
    for i in range(n):
        if made and len(made) > 20 and rng.random() < copy_share:
            original = made[max(0, len(made) - rng.randint(20, 200))]
            made.append(_near_copy(i, rng, original, pool, prefix))
        else:
            made.append(_article(i, rng, pool, rng.random() < alert_share, prefix))
    return [orjson.dumps(a) for a in made]


@dataclass(frozen=True)
class Expected:
    """What the pipeline must produce for a set of articles (from the offline run of the same cores)."""

    articles: int
    unique: int
    duplicates: int
    alerts: int
    rejected: int
    alert_ids: frozenset[str]


def expected(raws: list[bytes]) -> Expected:
    """Run the four cores offline over ``raws`` (in order) and count the outcomes."""
    pipeline = OfflinePipeline()
    unique = duplicates = rejected = 0
    alert_ids: set[str] = set()
    for raw in raws:
        rec = pipeline.process(raw)
        if rec["status"] == "unique":
            unique += 1
        elif rec["status"] == "duplicate":
            duplicates += 1
        else:
            rejected += 1
        if rec["alert"] is not None:
            alert_ids.add(rec["id"])
    return Expected(len(raws), unique, duplicates, len(alert_ids), rejected, frozenset(alert_ids))


def article_key(raw: bytes) -> bytes:
    """The message key (the article id) the bench publishes an article under."""
    return (decode(raw, RawArticle).id or "").encode()


if __name__ == "__main__":
    import statistics
    import sys

    raws = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
    exp = expected(raws)
    print(f"{len(raws)} articles, mean {statistics.mean(map(len, raws)):.0f} B, "
          f"min {min(map(len, raws))} B, max {max(map(len, raws))} B; {exp}".replace(str(exp.alert_ids), "…"))
