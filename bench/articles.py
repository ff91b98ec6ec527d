"""Benchmark articles generated from the project's own seeds (``seeds/``) and test data (``tests/data/``).

Why generated: the repository holds three real articles, and a benchmark needs thousands of
*distinct* ones (identical bodies would all be copies and skip entities and alerter).  Each
generated article is built from the real paragraphs, so its language, length, boilerplate,
captions, names and escalation terms are those of real newsroom copy:

* articles come in **stories** (a new story or a follow-up of one of the last 40): each story has
  eight key words (six words of the pool, two names from the gazetteer), and its articles' headline and lead
  (the first ~70 words, which the deduplicator's story features read) are those key words, two
  words of the article's own and Arabic function words — so different stories share almost no
  features, as in a real feed, and the alerter's one-alert-per-story logic sees many stories;
* after the lead, 9–15 body paragraphs drawn from the pool, about 6 KB of JSON (Arabic UTF-8),
  with about 30 % of the words of every paragraph replaced by other words of the pool and a few
  numbers changed, so that two generated articles share few word 3-shingles (they are not
  near-duplicates of each other);
* a story is "alerting" with a given probability: most of its articles add one to three paragraphs
  with escalation terms; the other articles use only paragraphs in which the alerter finds nothing;
* a given share are **near-copies** of an earlier article (one paragraph dropped, boilerplate
  changed, a few words edited, a new id), as a syndicated story republished by another outlet.

What each article should produce is *not* guessed: :func:`expected` runs the same four cores
offline (``rasd process``'s :class:`OfflinePipeline`) and counts uniques, copies and alerts.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from rasd.offline import OfflinePipeline
from schemas.codec import decode
from schemas.models import RawArticle
from services.alerter.core import Lexicon
from services.deduplicator.core import story_word
from services.normalizer.core import parse_text_article
from services.normalizer.textforms import display_form, matching_form

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "seeds", ROOT / "tests" / "data")
BOILERPLATE = ("شارك القصة", "تابعونا على وسائل التواصل الاجتماعي", "المصدر: وكالات", "اقرأ أيضاً")
GAZETTEER = ROOT / "services" / "entities" / "data"
# Function words (all in the deduplicator's stop list): they give the lead its length, not its story.
CONNECTORS = ("في", "من", "على", "إلى", "عن", "مع", "أن", "التي", "الذي", "بين", "بعد", "خلال", "حيث", "كما",
              "ثم", "وقد", "قبل", "عند", "نحو", "وسط", "ضمن", "كان", "هذا", "هذه", "لدى", "أيضا")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]{3,}")


@dataclass
class Pool:
    """Paragraphs of the real articles, and their words split by whether escalation terms use them."""

    paragraphs: list[str] = field(default_factory=list)
    alerting: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    hot: frozenset[str] = frozenset()
    # Distinct words that each give their own story feature: words of the pool, and gazetteer names.
    key_words: list[str] = field(default_factory=list)
    key_names: list[str] = field(default_factory=list)


@dataclass
class Story:
    """What the articles of one story share: their key words, and whether the story escalates."""

    key_words: list[str]
    alerting: bool


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
    names = [a for path in sorted(GAZETTEER.glob("*.jsonl")) for line in path.read_text(encoding="utf-8").splitlines()
             for a in orjson.loads(line).get("ar", []) if _ARABIC_WORD.fullmatch(a)]
    seen: set[str] = set()
    pool.key_words = _distinct_features([w for p in pool.paragraphs for w in _ARABIC_WORD.findall(p)], hot, seen)
    pool.key_names = _distinct_features(names, hot, seen)
    return pool


def _distinct_features(words: list[str], hot: frozenset[str], seen: set[str]) -> list[str]:
    """One word per story feature not in ``seen`` (which is updated), escalation words left out."""
    out: list[str] = []
    for word in words:
        feature = story_word(matching_form(display_form(word)))
        if feature and feature not in seen and not _is_hot(word, hot):
            seen.add(feature)
            out.append(word)
    return out


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


def _lead(rng: random.Random, words: list[str], length: int = 70) -> str:
    """A lead of ``length`` words: ``words`` (each at least once) among function words."""
    out: list[str] = []
    while len(out) < length:
        shuffled = rng.sample(words, len(words))
        for word in shuffled:
            out += [word, *rng.sample(CONNECTORS, rng.randint(1, 2))]
    return " ".join(out[:length])


def _article(i: int, rng: random.Random, pool: Pool, story: Story, prefix: str) -> dict[str, str]:
    target = rng.randint(2350, 3350)  # body characters after the lead: ~5.5-7.5 KB of JSON with the Arabic UTF-8
    own = [*story.key_words, *rng.sample(pool.key_words + pool.key_names, 2)]
    paras: list[str] = []
    if story.alerting and rng.random() < 0.8:
        paras += [_vary(p, rng, pool, 0.1, calm=False) for p in rng.sample(pool.alerting, rng.randint(1, 3))]
    while sum(map(len, paras)) < target:
        paras.insert(rng.randrange(len(paras) + 1), _vary(rng.choice(pool.paragraphs), rng, pool, 0.3, calm=True))
    if rng.random() < 0.5:
        paras.insert(rng.randrange(len(paras)), rng.choice(BOILERPLATE))
    title = " ".join(w for word in rng.sample(own, 6) for w in (rng.choice(CONNECTORS), word)).split(" ", 1)[1]
    return {
        "id": f"{prefix}-{i:07d}",
        "source": rng.choice(("wire-a", "wire-b", "wire-c", "wire-d")),
        "url": f"https://news.example/{i}",
        "title": title,
        "body": "\n\n".join([_lead(rng, own), *paras]),
        "published_at": "2024-09-19T10:00:00Z",
    }


def _near_copy(i: int, rng: random.Random, original: dict[str, str], pool: Pool, prefix: str) -> dict[str, str]:
    paras = original["body"].split("\n\n")
    if len(paras) > 4:
        paras.pop(rng.randrange(1, len(paras)))  # not the lead
    paras = [p for p in paras if p not in BOILERPLATE]
    paras.append(rng.choice(BOILERPLATE))
    edited = rng.randrange(len(paras))
    paras[edited] = _vary(paras[edited], rng, pool, 0.1, calm=False)
    return {**original, "id": f"{prefix}-{i:07d}", "url": f"https://other.example/{i}", "body": "\n\n".join(paras)}


def generate(
    n: int, *, seed: int = 7, copy_share: float = 0.12, alert_share: float = 0.3, new_story_share: float = 0.5,
    prefix: str = "bench",
) -> list[bytes]:
    """``n`` raw article messages (JSON bytes, ids ``<prefix>-NNNNNNN``); copies follow their original by 20–200.

    An original starts a new story with probability ``new_story_share``, else follows one of the last
    40 stories; a story is alerting with probability ``alert_share``.
    """
    rng = random.Random(seed)
    pool = load_pool()
    made: list[dict[str, str]] = []
    stories: list[Story] = []
    for i in range(n):
        if made and len(made) > 20 and rng.random() < copy_share:
            original = made[max(0, len(made) - rng.randint(20, 200))]
            made.append(_near_copy(i, rng, original, pool, prefix))
            continue
        if not stories or rng.random() < new_story_share:
            key_words = [*rng.sample(pool.key_names, 2), *rng.sample(pool.key_words, 6)]  # ~2 names in a lead
            stories.append(Story(key_words, rng.random() < alert_share))
        story = stories[-1] if len(stories) == 1 else rng.choice(stories[-40:])
        made.append(_article(i, rng, pool, story, prefix))
    return [orjson.dumps(a) for a in made]


@dataclass(frozen=True)
class Expected:
    """What the pipeline must produce for a set of articles (from the offline run of the same cores)."""

    articles: int
    unique: int
    duplicates: int
    alerts: int  # alerts the stream delivers: the first of each story and severity updates (not suppressed)
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
        if rec["alert"] is not None and rec["alert"]["delivery"] != "suppressed":  # one alert per story
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
