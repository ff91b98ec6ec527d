"""Exact and near-duplicate detection and story grouping: the deduplicator's functional core.

No Faust and no I/O: :class:`DedupIndex` keeps its state in two injected
mappings (plain dicts in tests and ``rasd process``, changelog-backed Faust
tables in the service), and time is passed in.  ``docs/dedup.md`` explains the
method, the thresholds and the measured numbers.

Duplicates
----------
* **Exact key.** A hash of the body's word tokens in matching form, so
  whitespace, punctuation, tashkeel or digit forms never make a copy look new.
* **Near-copies.** The body's word ``k``-shingles are hashed once each
  (multiply-shift over cached 64-bit token hashes) and summarised by
  *one-permutation MinHash*: the shingle hash picks one of ``num_perm`` bins,
  the bin keeps its minimum, and only the low 16 bits of each minimum are kept
  (*b-bit MinHash*; the similarity estimate is corrected for chance equality).
  Empty bins borrow from the next non-empty bin (densification).
* **Candidates.** The signature is split into ``bands`` LSH bands; an article
  sharing a band key with an indexed article is a candidate, and a candidate
  whose estimated Jaccard similarity reaches ``threshold`` makes the article a
  near-duplicate.
* **Earliest.** ``duplicate_of`` is the *root* of the group: the first article
  of the group in decision order.  In the service decisions happen in the
  total order of the one-partition sequence topic (``agent.py``), offline in
  input order, so two copies arriving at once never point at each other, and
  a decision once taken is never revised (see ``docs/dedup.md`` for why an
  earlier ``published_at`` arriving later does not re-root a group).

Stories
-------
Different articles about one event share a ``story_id``: the id of the first
article of the story.  Story features are the distinctive words of the title
and the lead (stop words removed, a light Arabic proclitic strip, no digits),
kept as 16-bit hashes.  A new original joins the story of the most similar
indexed original whose publication time is within ``story_window_s`` when
they share at least ``story_min_shared`` features and their Jaccard
similarity reaches ``story_threshold``.  A copy carries its root's story.

State and retention
-------------------
``docs`` maps an article id to a compact record (times, sequence number,
signature, story features, decision) and :data:`NEXT_KEY` to the next
sequence number; it is the only stored state.  The buckets that find
candidates — LSH buckets, story postings, exact keys and the retention queue —
are derived from the records in memory (:class:`Buckets`) and rebuilt whenever
the stored counter differs from the one in memory (after a restart's table
recovery, or a failover), so a decision costs two table writes.  The band and
exact buckets are numpy arrays per segment of sequence numbers (``postings.py``),
the rebuild computes them in bulk, and with ``records="bytes"`` each record is
kept as its orjson bytes, decoded when read (docs/performance.md, "The dedup
index at scale": 974 B of worker memory per article at 1M articles instead of
4,754 B, recovery 29 s instead of 144 s).  Every
:meth:`DedupIndex.check` forgets up to ``prune_batch`` of the oldest articles
that have left the retention window, so the index stays bounded without a
scan and every write happens inside the event that caused it (a Faust table
requirement).
"""

from __future__ import annotations

import base64
import bisect
import gc
import hashlib
import math
import re
import struct
from array import array
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from itertools import chain, pairwise
from operator import eq, mul
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from schemas.models import DedupVerdict, NormalizedArticle

from .postings import Postings, Queue, release_free_memory
from .stories import ACTOR, PLACE, REGION, StoryProfile, StoryProfiler, StoryQuery, StoryRule

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Punctuation frequent in matching-form text (quotes are already straight), all non-word characters.
_PUNCTUATION = "".join(c for c in "\"،.:/'()-,؛؟!?%;" if not _TOKEN.match(c))
_DIGIT = re.compile(r"\d")
_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1
_MUL = 0x9E3779B97F4A7C15  # odd 64-bit constant of the multiply-shift shingle hash
_MUL2 = _MUL * _MUL & ((1 << 64) - 1)
_BAND_MULS = (0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD)
_VALUE_BITS = 16
_MAX_BAND_IDS = 8  # a band bucket holding more than this is a boilerplate bucket: it stops growing
_MAX_POSTING_IDS = 32  # a story posting keeps its most recent articles
_MAX_STORY_CANDIDATES = 16  # story candidates scored per article
_TOKEN_CACHE_MAX = 200_000
_DATA = Path(__file__).resolve().parent / "data"
_STRIP_PREFIXES = ("بال", "كال", "فال", "لل", "ال")


@dataclass(frozen=True)
class DedupConfig:
    """Tuning of the index (``docs/dedup.md`` gives the reasons for the defaults)."""

    threshold: float = 0.5
    num_perm: int = 60
    bands: int = 20
    shingle: int = 3
    retention_s: float = 14 * 24 * 3600.0
    story: StoryRule = field(default_factory=StoryRule)
    story_idf_prior: int = 20
    story_min_shared: int = 2  # words an article must share with a candidate found by its words alone
    story_window_s: float = 3 * 24 * 3600.0
    story_features: int = 32
    story_lead: int = 60
    prune_batch: int = 4

    def __post_init__(self) -> None:
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        if self.num_perm // self.bands > len(_BAND_MULS):
            raise ValueError(f"at most {len(_BAND_MULS)} rows per band (num_perm / bands)")


@dataclass(frozen=True)
class Fingerprint:
    """What the index needs to know about an article's content."""

    exact: str
    signature: tuple[int, ...]
    story: StoryProfile
    bands: tuple[int, ...]


def band_keys(signature: tuple[int, ...], bands: int) -> list[int]:
    """LSH band keys of a signature (also recomputed from a stored signature when pruning).

    Band ``b`` hashes its rows ``signature[b * rows : (b + 1) * rows]`` as ``h = b + Σ value · _BAND_MULS[r]``
    (mod 2^64); its key is ``b · 2^32 + (h >> 32)``.  Keys live only in memory (the buckets are rebuilt from
    the stored signatures), and an int key is equal exactly when the former ``f"b{b}:{h >> 32:x}"`` string
    key was, so the candidates are the same; building 20 ints instead of 20 f-strings: 14 -> 4 us.
    """
    rows = len(signature) // bands
    if rows == 3:  # the default (60 bins, 20 bands): the products written out, no per-band sum()
        m0, m1, m2 = _BAND_MULS[:3]
        return [
            (b << 32) | (((b + x * m0 + y * m1 + z * m2) & _MASK64) >> 32)
            for b, x, y, z in zip(range(bands), signature[0::3], signature[1::3], signature[2::3], strict=True)
        ]
    columns = [signature[r : bands * rows : rows] for r in range(rows)]  # columns[r][b] = row r of band b
    return [
        (b << 32) | (((b + sum(map(mul, values, _BAND_MULS))) & _MASK64) >> 32)
        for b, values in enumerate(zip(*columns, strict=True))
    ]


# token → (its 64-bit hash h, h · _MUL mod 2^64, h · _MUL2 mod 2^64): the products the 3-shingle hash needs.
_TOKEN_HASHES: dict[str, tuple[int, int, int]] = {}


def _token_hash(token: str) -> tuple[int, int, int]:
    h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    return h, h * _MUL & _MASK64, h * _MUL2 & _MASK64


def word_tokens(text: str) -> list[str]:
    """``_TOKEN.findall(text)`` (word tokens), computed with string methods when that gives the same list.

    With the frequent punctuation replaced by spaces, if every whitespace-separated chunk is
    alphanumeric, the chunks are exactly the maximal runs of word characters (``\\w`` is
    ``str.isalnum`` or ``_``, and spaces and the replaced characters are not word characters);
    otherwise (an ``_``, a rarer symbol) the regular expression decides.  About twice as fast.
    """
    return _split_words(_spaced(text), text)


def _spaced(text: str) -> str:
    """``text`` with the frequent punctuation replaced by spaces (same length, same line breaks)."""
    for char in _PUNCTUATION:
        text = text.replace(char, " ")
    return text


def _split_words(spaced: str, text: str) -> list[str]:
    """:func:`word_tokens` of ``text``, given ``_spaced(text)``."""
    chunks = spaced.split()
    # One isalnum() over the joined chunks instead of one call per chunk (17 -> 8 us for 500 words); the
    # chunks are non-empty, so the joined string is all alphanumeric exactly when every chunk is.
    if not chunks or "".join(chunks).isalnum():
        return chunks
    return _TOKEN.findall(text)


def _hashed(tokens: list[str]) -> list[tuple[int, int, int]]:
    """:func:`_token_hash` of each token (cached: a news vocabulary repeats all day).

    Only alphanumeric tokens enter the cache (all but those with an ``_``): so chunks that are all
    found in it are all alphanumeric, which :func:`_hashed_words` relies on.
    """
    known = _TOKEN_HASHES
    try:
        return list(map(known.__getitem__, tokens))
    except KeyError:
        pass
    missing = set(tokens).difference(known)
    if len(known) + len(missing) > _TOKEN_CACHE_MAX:
        known.clear()
        missing = set(tokens)
    fresh = {t: _token_hash(t) for t in missing}
    odd = {t: h for t, h in fresh.items() if not t.isalnum()}
    known.update((t, h) for t, h in fresh.items() if t not in odd)
    if not odd:
        return list(map(known.__getitem__, tokens))
    return [odd[t] if t in odd else known[t] for t in tokens]


def _hashed_words(spaced: str, text: str) -> tuple[list[str], list[tuple[int, int, int]]]:
    """:func:`word_tokens` of ``text`` (given ``_spaced(text)``) and their :func:`_hashed`.

    When every whitespace-separated chunk is in the token cache, every chunk is alphanumeric (only
    such tokens are cached), so the chunks are the tokens (:func:`word_tokens`): the cache lookup the
    hashes need anyway stands in for the ``"".join(chunks).isalnum()`` check (~10 us per article).
    """
    chunks = spaced.split()
    try:
        return chunks, list(map(_TOKEN_HASHES.__getitem__, chunks))
    except KeyError:
        tokens = _split_words(spaced, text)
        return tokens, _hashed(tokens)


def token_hashes(tokens: list[str]) -> list[int]:
    """Stable 64-bit hashes of tokens."""
    return [h for h, _, _ in _hashed(tokens)]


def minhash(hashes: list[int], num_perm: int, shingle: int) -> tuple[int, ...]:
    """One-permutation b-bit MinHash of the ``shingle``-word shingles of a token-hash sequence."""
    k = min(shingle, len(hashes)) or 1
    if k == 3:  # the default, in one pass
        triples = zip(hashes, hashes[1:], hashes[2:], strict=False)
        acc = [(a * _MUL2 + b * _MUL + c) & _MASK64 for a, b, c in triples]
    else:
        acc = hashes[: len(hashes) - k + 1] or [0]
        for j in range(1, k):
            acc = [(x * _MUL + y) & _MASK64 for x, y in zip(acc, hashes[j:], strict=False)]
    return _bins(acc, num_perm)


def _hashed_minhash(hashed: list[tuple[int, int, int]], num_perm: int, shingle: int) -> tuple[int, ...]:
    """``minhash`` of the tokens whose :func:`_hashed` is ``hashed``, the 3-shingle products taken from the cache."""
    if shingle != 3 or len(hashed) < 3:
        return minhash([h for h, _, _ in hashed], num_perm, shingle)
    # (a·MUL2 + b·MUL + c) mod 2^64 from the cached (a·MUL2 mod 2^64) and (b·MUL mod 2^64).
    acc = [(a[2] + b[1] + c[0]) & _MASK64 for a, b, c in zip(hashed, hashed[1:], hashed[2:], strict=False)]
    return _bins(acc, num_perm)


@cache
def _bin_starts(num_perm: int) -> tuple[int, ...]:
    """The smallest shingle hash of each bin (``(x * num_perm) >> 64 == b``), then 2^64."""
    return (*(-(-(b << 64) // num_perm) for b in range(num_perm)), 1 << 64)


def _bins(acc: list[int], num_perm: int) -> tuple[int, ...]:
    """The low 16 bits of each bin's minimum shingle hash, empty bins densified."""
    # The bin (x * num_perm) >> 64 is monotonic in x: in sorted order each bin is one run, whose
    # first element is the bin's minimum.
    ordered = sorted(acc)
    cuts = [bisect.bisect_left(ordered, x) for x in _bin_starts(num_perm)]
    mins = [ordered[i] & 0xFFFF if i < j else -1 for i, j in pairwise(cuts)]
    if -1 not in mins:
        return tuple(mins)
    bins: list[int] = []
    for b in range(num_perm):
        j = b
        while mins[j] < 0:  # densification: borrow from the next non-empty bin, cyclically
            j = (j + 1) % num_perm
        bins.append(mins[j])
    return tuple(bins)


@cache
def stopwords() -> frozenset[str]:
    """Words that never count as story features (``data/stopwords.txt``, matching form)."""
    text = (_DATA / "stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


_STORY_WORDS: dict[str, str] = {}  # token → story_word(token), for story_words()


@lru_cache(maxsize=1 << 16)
def story_word(token: str) -> str:
    """The story feature a token gives (a light proclitic strip), or ``""`` for stop words and numbers."""
    stop = stopwords()
    if len(token) < 3 or token in stop or _DIGIT.search(token):
        return ""
    if len(token) > 4 and token[0] == "و":
        token = token[1:]
    for prefix in _STRIP_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            token = token[len(prefix) :]
            break
    return "" if token in stop or len(token) < 3 else token


def story_words(title_tokens: list[str], body_tokens: list[str], config: DedupConfig) -> list[str]:
    """Distinctive words of the title and the lead, in order, without repeats."""
    tokens = [*title_tokens, *body_tokens[: config.story_lead]]
    # A plain dict in front of story_word's lru_cache: one C-level map over ~80 tokens instead of ~80
    # Python-level calls (10 -> 3 us).
    known = _STORY_WORDS
    try:
        words = list(map(known.__getitem__, tokens))
    except KeyError:
        if len(known) > _TOKEN_CACHE_MAX:
            known.clear()
        for token in tokens:
            if token not in known:
                known[token] = story_word(token)
        words = list(map(known.__getitem__, tokens))
    # The first ``story_features`` distinct non-empty words, in order of first appearance.
    return list(dict.fromkeys(filter(None, words)))[: config.story_features]


class _Words(NamedTuple):
    """An article's words: its exact key, and what the rest of its fingerprint is computed from."""

    exact: str
    title: list[str]
    body: list[str]
    hashed: list[tuple[int, int, int]]  # :func:`_hashed` of the tokens the copy tests read (body, else title)


def _words(article: NormalizedArticle) -> _Words:
    # One punctuation pass over the whole text (the replaced characters are not line breaks).
    title, _, body = article.match_text.partition("\n")
    spaced_title, _, spaced_body = _spaced(article.match_text).partition("\n")
    title_tokens = _split_words(spaced_title, title)
    body_only, hashed = _hashed_words(spaced_body, body)
    tokens = body_only  # the headline is excluded from copies' tests: copies often retitle
    if not body_only:
        tokens, hashed = title_tokens, _hashed(title_tokens)
    exact = hashlib.blake2b(" ".join(tokens).encode(), digest_size=8).hexdigest()
    return _Words(exact, title_tokens, body_only, hashed)


def _fingerprint(
    words: _Words, config: DedupConfig, article: NormalizedArticle, profiler: StoryProfiler
) -> Fingerprint:
    signature = _hashed_minhash(words.hashed, config.num_perm, config.shingle)
    features = story_words(words.title, words.body, config)
    hashes = tuple(sorted({h >> 32 for h in token_hashes(features)}))
    story = profiler.profile(
        article.text, article.match_text, article.language, hashes, config.story, article.dateline
    )
    return Fingerprint(words.exact, signature, story, tuple(band_keys(signature, config.bands)))


def fingerprint(
    article: NormalizedArticle, config: DedupConfig, profiler: StoryProfiler | None = None
) -> Fingerprint:
    """Exact key, MinHash signature and story profile of an article."""
    return _fingerprint(_words(article), config, article, profiler or StoryProfiler.default())


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of two b-bit signatures (share of equal bins, chance corrected)."""
    if len(a) != len(b):
        raise ValueError(f"signatures of different lengths ({len(a)}, {len(b)})")
    same: int = sum(map(eq, a, b))  # a C-level count of equal bins (True counts 1)
    equal = same / len(a)
    chance = 1.0 / (1 << _VALUE_BITS)
    return max(0.0, (equal - chance) / (1.0 - chance))


def story_similarity(a: Iterable[int], b: Iterable[int]) -> tuple[float, int]:
    """Jaccard similarity of two story feature sets, and how many features they share."""
    sa, sb = set(a), set(b)
    shared = len(sa & sb)
    union = len(sa | sb)
    return (shared / union if union else 0.0), shared


def _pack(values: tuple[int, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}H", *values)).decode()


def _pack32(values: tuple[int, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}I", *values)).decode()


def _unpack32(data: str) -> tuple[int, ...]:
    raw = base64.b64decode(data)
    return struct.unpack(f"<{len(raw) // 4}I", raw)


def stored_profile(doc: dict[str, Any]) -> StoryProfile | None:
    """The story profile an original's record keeps (``None`` for copies and records that predate it)."""
    if "w" not in doc:
        return None
    return _decoded_profile(doc["w"], tuple(doc.get("e", ())), doc.get("l", ""))


@lru_cache(maxsize=4096)
def _decoded_profile(words: str, tagged: tuple[str, ...], language: str) -> StoryProfile:
    """A stored profile decoded (cached: the recent originals are the candidates of most articles)."""
    return StoryProfile.from_stored(_unpack32(words), tagged, language)


def _packed_len(data: str) -> int:
    """How many values :func:`_pack` packed into ``data``, without decoding it."""
    return (len(data) * 3 // 4 - data.count("=", -2)) // 2


def _unpack(data: str) -> tuple[int, ...]:
    raw = base64.b64decode(data)
    return struct.unpack(f"<{len(raw) // 2}H", raw)


def published_time(article: NormalizedArticle, now: float) -> float:
    """When the article says it was published (unix time), else when it was first seen."""
    if article.published_at:
        try:
            stamp = datetime.fromisoformat(article.published_at.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if stamp.tzinfo is not None:
                return stamp.timestamp()
    return article.ingested_at or now


def verdict_of(article_id: str, doc: dict[str, Any] | bytes) -> DedupVerdict:
    """The decision stored in a doc record (a dict, or its orjson bytes)."""
    doc = _record(doc)
    dup = doc.get("d")
    return DedupVerdict(
        status="duplicate" if dup else "unique",
        duplicate_of=dup,
        similarity=doc.get("m", 0.0),
        kind=doc.get("k"),
        story_id=doc.get("s", article_id),
    )


NEXT_KEY = "@next"  # the one ``docs`` entry that is not an article: the next sequence number


def _posted(profile: StoryProfile) -> list[Hashable]:
    """The features whose postings find story candidates: words, specific places and their regions, actors
    (countries and categories are shared by too many articles to find anything)."""
    return [*profile.words, *profile.tagged()[: len(profile.places) + len(profile.regions)],
            *(ACTOR + a for a in profile.actors)]


@dataclass
class Buckets:
    """The derived, in-memory part of the index, rebuilt from ``docs`` whenever they differ.

    ``bands``: LSH band key → the sequence numbers of the first ``_MAX_BAND_IDS`` live articles that have it
    (:class:`~.postings.Postings`: numpy arrays per segment of sequence numbers); ``exact``: exact key (its
    64 bits as an int) → the sequence number of the first live article that has it (postings capped at one);
    ``stories``: story feature (a word hash, a specific place or region, an actor) → sequence numbers (most
    recent last, at most ``_MAX_POSTING_IDS``); ``df``: story feature (every kind) → how many retained
    originals have it, and ``originals``: how many there are (the IDF of :func:`story_score`); ``queue``:
    sequence number → article id, walked from ``head`` by retention; ``dead``: sequence numbers at or past
    ``head`` removed out of order (:meth:`remove` of a recent article: their postings entries are skipped);
    ``next``: the next sequence number.
    """

    bands: Postings = field(default_factory=lambda: Postings(_MAX_BAND_IDS))
    stories: dict[Hashable, list[int]] = field(default_factory=dict)
    df: Counter[Hashable] = field(default_factory=Counter)
    originals: int = 0
    exact: Postings = field(default_factory=lambda: Postings(1))
    queue: Queue = field(default_factory=Queue)
    head: int = 0
    next: int = -1  # -1: never synchronised with ``docs``
    dead: set[int] = field(default_factory=set)
    # the last band lookup (its keys, the state it saw, its result): a decision looks its bands up to find
    # candidates and again to index the article, with nothing changed in between
    _memo: tuple[object, tuple[int, int], list[list[int]]] | None = field(default=None, repr=False)
    _exact_memo: tuple[int, tuple[int, int], list[int]] | None = field(default=None, repr=False)
    _changes: int = field(default=0, repr=False)  # counts adds and removals: a memo is of one state

    def band_members(self, keys: tuple[int, ...] | list[int]) -> list[list[int]]:
        """Each band key's live sequence numbers, ascending."""
        state = (self.head, self._changes)
        memo = self._memo
        if memo is not None and memo[0] is keys and memo[1] == state:
            return memo[2]
        found = self.bands.live(keys, self.head, self.dead)
        self._memo = (keys, state, found)
        return found

    def exact_seq(self, exact: str) -> int | None:
        """The sequence number of the live article indexed under exact key ``exact``, if any."""
        found = self._exact_members(_exact_int(exact))
        return found[0] if found else None

    def _exact_members(self, key: int) -> list[int]:
        """The live sequence numbers under an exact key (at most one); remembered like :meth:`band_members`
        (a decision looks its exact key up, then indexes it)."""
        state = (self.head, self._changes)
        memo = self._exact_memo
        if memo is not None and memo[0] == key and memo[1] == state:
            return memo[2]
        found = self.exact.live((key,), self.head, self.dead)[0]
        self._exact_memo = (key, state, found)
        return found

    def add(self, article_id: str, doc: dict[str, Any], config: DedupConfig, fp: Fingerprint | None = None) -> None:
        """Index one article's record (in sequence order); ``fp``, when given, is the fingerprint the
        record was made from (its band keys and story features, so they are not decoded again)."""
        seq = int(doc["n"])
        self.queue.put(seq, article_id)
        exact = _exact_int(doc["x"])
        first = not self._exact_members(exact)
        keys: tuple[int, ...] | list[int] = ()
        members: list[list[int]] = []
        if "g" in doc:  # exact copies carry no signature: they add nothing to the near-duplicate buckets
            keys = fp.bands if fp is not None else tuple(band_keys(_unpack(doc["g"]), config.bands))
            members = self.band_members(keys)
        self._changes += 1  # looked up (the decision's lookups, remembered), now changed
        if first:
            self.exact.add(exact, seq)
        for key, ids in zip(keys, members, strict=True):
            if len(ids) < _MAX_BAND_IDS:
                self.bands.add(key, seq)
        profile = fp.story if fp is not None else stored_profile(doc)
        if "w" in doc and profile is not None:  # originals only: copies are found through their root's story
            self.originals += 1
            self.df.update(profile.features())
            for f in _posted(profile):
                ids = self.stories.setdefault(f, [])
                ids.append(seq)
                if len(ids) > _MAX_POSTING_IDS:
                    del ids[0]

    def remove(self, doc: dict[str, Any] | bytes, config: DedupConfig) -> None:
        """Forget one article's record (the band and exact entries of a sequence number are skipped once it is
        before ``head``, or in ``dead``)."""
        doc = _record(doc)
        seq = int(doc["n"])
        self.queue.pop(seq)
        if seq >= self.head:
            self.dead.add(seq)
        self._changes += 1
        profile = stored_profile(doc)
        if profile is not None:
            self.originals -= 1
            for f in profile.features():
                left = self.df[f] - 1
                if left > 0:
                    self.df[f] = left
                else:
                    del self.df[f]
            for f in _posted(profile):
                ids = self.stories.get(f)
                if ids and seq in ids:
                    ids.remove(seq)
                    if not ids:
                        del self.stories[f]

    def advance(self) -> None:
        """Move ``head`` past its sequence number (pruned, or a gap)."""
        self.dead.discard(self.head)
        self.head += 1

    def expire(self) -> None:
        """Drop what lies wholly before ``head``: frozen postings segments, queue slots."""
        self.bands.expire(self.head)
        self.exact.expire(self.head)
        self.queue.trim(self.head)

    def band_map(self) -> dict[int, list[int]]:
        """``bands`` as a dict of the live entries (tests, the bench: slow)."""
        return self.bands.as_dict(self.head, self.dead)

    def exact_map(self) -> dict[int, int]:
        """``exact`` as a dict: exact key (int) → sequence number (tests, the bench: slow)."""
        return {k: ids[0] for k, ids in self.exact.as_dict(self.head, self.dead).items()}

    @classmethod
    def rebuilt(cls, docs: Mapping[str, Any], next_seq: int, config: DedupConfig) -> Buckets:
        """The buckets that :meth:`add` of each record of ``docs`` in sequence order gives from empty, computed
        in bulk: band keys of all signatures at once (:func:`_band_keys_raw`), each key's first sequence
        numbers by a sort.

        Two passes over the records, each decoding one record at a time: the first gathers numbers into arrays
        (sequence numbers, exact keys, signatures), the second the story features of the originals in sequence
        order.  No decoded record outlives its turn, so the long-lived postings made in the second pass are not
        scattered among freed ones (a worker's memory after a rebuild is what the index holds).
        """
        ids: list[str] = []
        seqs, exact, signed, originals = array("q"), array("Q"), array("q"), array("q")
        signatures, words = bytearray(), bytearray()
        word_counts = array("q")  # story words of each original (32-bit hashes), in the order of ``originals``
        odd: list[tuple[int, list[int]]] = []  # signatures not num_perm long (none are written): keyed one by one
        width = 2 * config.num_perm
        for key, value in docs.items():
            if key == NEXT_KEY or not isinstance(value, dict | bytes | bytearray):
                continue
            doc = _record(value)
            i = len(ids)
            ids.append(key)
            seqs.append(int(doc["n"]))
            exact.append(_exact_int(doc["x"]))
            if "g" in doc:
                raw = base64.b64decode(doc["g"])
                if len(raw) == width:
                    signed.append(i)
                    signatures += raw
                else:
                    odd.append((i, band_keys(_unpack(doc["g"]), config.bands)))
            if "w" in doc:
                originals.append(i)
                packed = base64.b64decode(doc["w"])
                words += packed
                word_counts.append(len(packed) // 4)
        n = len(ids)
        seq = np.frombuffer(seqs, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
        order = np.argsort(seq, kind="stable")
        head = int(seq[order[0]]) if n else next_seq
        out = cls(head=head, next=next_seq)
        out.queue = Queue(head, [None] * ((int(seq[order[-1]]) - head + 1) if n else 0))
        slots = out.queue.ids
        for i in order.tolist():
            slots[int(seq[i]) - head] = ids[i]
        out.exact = Postings.built(1, np.frombuffer(exact, dtype=np.uint64) if n else np.zeros(0, np.uint64), seq,
                                   next_seq)
        where = np.frombuffer(signed, dtype=np.int64) if len(signed) else np.zeros(0, dtype=np.int64)
        keys = _band_keys_raw(np.frombuffer(bytes(signatures), dtype="<u2"), len(signed), config)
        del signatures
        band_seqs = np.repeat(seq[where], config.bands)
        if odd:
            keys = np.concatenate((keys.ravel(), np.array([k for _, ks in odd for k in ks], dtype=np.uint64)))
            band_seqs = np.concatenate((band_seqs, np.repeat(seq[[i for i, _ in odd]], [len(ks) for _, ks in odd])))
        out.bands = Postings.built(_MAX_BAND_IDS, keys.ravel(), band_seqs, next_seq)
        del keys, band_seqs
        # The originals in sequence order, each sequence number one int object shared by its postings.
        which = np.frombuffer(originals, dtype=np.int64) if len(originals) else np.zeros(0, dtype=np.int64)
        rank = np.argsort(seq[which], kind="stable")  # rank -> position in ``originals``
        at: list[int] = seq[which[rank]].tolist()
        out.originals = len(at)
        stories, df = out.stories, out.df
        # Story words, all at once: each word's document frequency, and its posting (its last
        # _MAX_POSTING_IDS originals in sequence order) by a stable sort of (word, rank).
        counts = np.frombuffer(word_counts, dtype=np.int64) if len(word_counts) else np.zeros(0, dtype=np.int64)
        hashes = np.frombuffer(bytes(words), dtype="<u4").astype(np.int64)
        del words
        position = np.empty(len(rank), dtype=np.int64)
        position[rank] = np.arange(len(rank))
        owner = np.repeat(position, counts)  # each word's original, as its rank in sequence order
        order = np.lexsort((owner, hashes))
        hashes, owner = hashes[order], owner[order]
        del order
        if len(hashes):
            starts = np.flatnonzero(np.concatenate(([True], hashes[1:] != hashes[:-1])))
            ends = np.append(starts[1:], len(hashes))
            df.update(dict(zip(hashes[starts].tolist(), (ends - starts).tolist(), strict=True)))
            for word, start, end in zip(hashes[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
                stories[word] = [at[r] for r in owner[max(start, end - _MAX_POSTING_IDS) : end].tolist()]
        del hashes, owner
        # Tagged features (places, regions, actors, ...: a few per original) one original at a time, in order.
        posted_kinds = (PLACE, REGION, ACTOR)
        for i, seq_at in zip(which[rank].tolist(), at, strict=True):
            tagged = _record(docs[ids[i]]).get("e", ())
            if not tagged:
                continue
            df.update(tagged)
            for f in tagged:
                if f[:2] not in posted_kinds:
                    continue
                posting = stories.get(f)
                if posting is None:
                    stories[f] = [seq_at]
                else:
                    posting.append(seq_at)
                    if len(posting) > _MAX_POSTING_IDS:
                        del posting[0]
        return out


def _exact_int(exact: str) -> int:
    """An exact key as a 64-bit int: the key is 16 hex digits (8 bytes of BLAKE2b), so this is one to one;
    any other string is hashed to 64 bits."""
    if len(exact) == 16:
        try:
            return int(exact, 16)
        except ValueError:
            pass
    return int.from_bytes(hashlib.blake2b(exact.encode(), digest_size=8).digest(), "little")


def _band_keys_raw(values: npt.NDArray[np.uint16], count: int, config: DedupConfig) -> npt.NDArray[np.uint64]:
    """:func:`band_keys` of ``count`` signatures given as their concatenated ``num_perm`` 16-bit values."""
    bands, rows = config.bands, config.num_perm // config.bands
    signatures = values.reshape(count, bands, rows).astype(np.uint64)
    muls = np.array(_BAND_MULS[:rows], dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = (signatures * muls).sum(axis=2, dtype=np.uint64) + np.arange(bands, dtype=np.uint64)
    keys: npt.NDArray[np.uint64] = (np.arange(bands, dtype=np.uint64) << np.uint64(32)) | (h >> np.uint64(32))
    return keys


def _record(value: Any) -> dict[str, Any]:
    """A ``docs`` record as a dict: stored as a dict (a JSON table, tests) or as its orjson bytes."""
    if isinstance(value, dict):
        return value
    decoded: dict[str, Any] = orjson.loads(value)
    return decoded


class DedupIndex:
    """The duplicate and story index: persisted per-article records, derived buckets in memory.

    ``docs`` is the only state that is stored (a changelog-backed Faust table in the service): one
    JSON-friendly record per indexed article, plus :data:`NEXT_KEY`.  Everything needed to find
    candidates (LSH buckets, story postings, exact keys, the retention queue) is derived from those
    records and kept in :class:`Buckets`, rebuilt whenever the stored sequence counter differs from
    the one in memory: at start-up after the table's recovery, and when a worker takes the sequence
    partition over from another.  So a decision writes two table entries, not one per bucket.
    """

    def __init__(
        self, config: DedupConfig, docs: MutableMapping[str, Any] | None = None, profiler: StoryProfiler | None = None,
        *, records: Literal["dict", "bytes"] = "dict",
    ) -> None:
        """``profiler`` reads story profiles (default: the packaged gazetteer and lexicon, loaded once).

        ``records``: how new records are written into ``docs``: ``"dict"`` (a JSON-serialised table) or
        ``"bytes"``, each record its orjson bytes and the counter its decimal digits (a raw-serialised table:
        ~0.5 KB per record off the Python heap instead of ~1.5 KB of objects).  Records of either form are read
        whatever the setting, so a table written as JSON stays readable as raw bytes (JSON text is orjson's).
        """
        self.config = config
        self.docs: MutableMapping[str, Any] = {} if docs is None else docs
        self.buckets = Buckets()
        self.profiler = profiler or StoryProfiler.default()
        self.records = records

    @property
    def indexed(self) -> int:
        """How many articles are indexed (``docs`` also holds the counter)."""
        return len(self.docs) - (NEXT_KEY in self.docs)

    def sync(self) -> bool:
        """Rebuild the buckets from ``docs`` if they are out of date; True when it rebuilt."""
        stored = int(self.docs.get(NEXT_KEY, 0))
        if stored == self.buckets.next:
            return False
        # The rebuild makes millions of objects and no reference cycles; with the cyclic collector on, each
        # young generation filling up triggers collections that rescan the growing heap (docs/performance.md
        # "The dedup index at scale").
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.buckets = Buckets.rebuilt(self.docs, stored, self.config)
            release_free_memory()  # the rebuild's sorts and decoded records, freed: their pages back to the system
        finally:
            if collecting:
                gc.enable()
        return True

    def check(self, article: NormalizedArticle, *, now: float) -> DedupVerdict:
        """Decide whether ``article`` duplicates an indexed one and which story it belongs to, then index it.

        Idempotent per article id while the article is retained: a replay returns the first decision.
        """
        seen = self.docs.get(article.id)
        if seen is not None:
            return verdict_of(article.id, _record(seen))
        self.sync()
        self._prune(now, self.config.prune_batch)  # synchronised just above: one counter read, not two
        words = _words(article)
        published = published_time(article, now)
        verdict = self._exact_copy(words.exact, now)
        if verdict is None:
            fp = _fingerprint(words, self.config, article, self.profiler)
            verdict = self._decide(article.id, fp, published, now)
        else:
            # An exact copy's record keeps no signature and no story profile (see _index), so the rest
            # of its fingerprint (MinHash, bands, story profile) is never computed.
            fp = Fingerprint(words.exact, (), StoryProfile(), ())
        self._index(article.id, fp, verdict, published, now)
        return verdict

    def _doc_at(self, seq: int, now: float) -> tuple[str, dict[str, Any]] | None:
        """The live (retained) article with sequence number ``seq``."""
        article_id = self.buckets.queue.get(seq)
        value = None if article_id is None else self.docs.get(article_id)
        if article_id is None or value is None:
            return None
        doc = _record(value)
        if now - float(doc["t"]) > self.config.retention_s:
            return None
        return article_id, doc

    def _exact_copy(self, exact: str, now: float) -> DedupVerdict | None:
        """The verdict for a copy of a retained article's exact key, or ``None``."""
        exact_seq = self.buckets.exact_seq(exact)
        if exact_seq is not None and (found := self._doc_at(exact_seq, now)) is not None:
            cand_id, doc = found
            return DedupVerdict(
                status="duplicate", duplicate_of=doc.get("d", cand_id), similarity=1.0, kind="exact",
                story_id=doc.get("s", cand_id),
            )
        return None

    def _decide(self, article_id: str, fp: Fingerprint, published: float, now: float) -> DedupVerdict:
        """The verdict for an article that is not an exact copy: a near copy, or an original and its story."""
        best: tuple[str, dict[str, Any]] | None = None
        best_sim = 0.0
        # C-level gathering of the band buckets' members (a set comprehension over 20 keys: ~7 -> ~3 us).
        seqs = set(chain.from_iterable(self.buckets.band_members(fp.bands)))
        for seq in sorted(seqs):  # ascending: on a tie the earlier article wins
            found = self._doc_at(seq, now)
            if found is None:
                continue
            sim = similarity(fp.signature, _unpack(found[1]["g"]))
            if sim > best_sim:
                best, best_sim = found, sim
        if best is not None and best_sim >= self.config.threshold:
            cand_id, doc = best
            return DedupVerdict(
                status="duplicate", duplicate_of=doc.get("d", cand_id), similarity=round(best_sim, 4),
                kind="near", story_id=doc.get("s", cand_id),
            )
        story = self._story(fp, published, now) or article_id
        return DedupVerdict(status="unique", similarity=round(best_sim, 4), story_id=story)

    def _story(self, fp: Fingerprint, published: float, now: float) -> str | None:
        """The story of the original that most strongly reports the same event, or ``None`` when the
        article starts one (``stories.py``: the features, the place gate, the score)."""
        profile, buckets, config = fp.story, self.buckets, self.config
        # A shared place or actor counts as many words: either alone makes a candidate (an actor across languages,
        # where no word is shared: the central bank of one country in an Arabic and an English report).
        strong = {PLACE + p for p in profile.places} | {REGION + r for r in profile.regions}
        strong.update(ACTOR + a for a in profile.actors)
        hits: Counter[int] = Counter()  # candidate → shared words, places and actors
        for f in _posted(profile):
            for seq in buckets.stories.get(f, ()):
                hits[seq] += config.story_min_shared if f in strong else 1
        ranked = [seq for seq, n in hits.most_common() if n >= config.story_min_shared]
        # IDF over the retained originals and the article itself, smoothed as if the index had also seen
        # ``story_idf_prior`` articles without the feature: on an almost empty index (a new stream, a test)
        # a shared feature would otherwise weigh almost nothing just for being in both articles.
        documents = buckets.originals + 1 + config.story_idf_prior
        df = buckets.df

        def idf(feature: Hashable) -> float:
            return math.log(documents / (df.get(feature, 0) + 1))

        query = StoryQuery(profile, idf, config.story)
        best_story, best_score = None, 0.0
        for seq in ranked[:_MAX_STORY_CANDIDATES]:
            found = self._doc_at(seq, now)
            if found is None:
                continue
            cand_id, doc = found
            other = stored_profile(doc)
            if other is None or abs(float(doc["p"]) - published) > config.story_window_s:
                continue
            score = query.score(other)
            if score >= config.story.threshold and score > best_score:
                best_story, best_score = doc.get("s", cand_id), score
        return best_story

    def _index(self, article_id: str, fp: Fingerprint, verdict: DedupVerdict, published: float, now: float) -> None:
        seq = self.buckets.next
        doc: dict[str, Any] = {"t": round(now, 3), "p": round(published), "n": seq, "x": fp.exact}
        if verdict.similarity:
            doc["m"] = verdict.similarity
        if verdict.duplicate_of:
            doc.update(d=verdict.duplicate_of, k=verdict.kind)
        if verdict.story_id and verdict.story_id != article_id:
            doc["s"] = verdict.story_id
        if verdict.kind != "exact":
            doc["g"] = _pack(fp.signature)
        if verdict.status == "unique":
            doc["w"] = _pack32(fp.story.words)
            doc["e"] = fp.story.tagged()
            doc["l"] = fp.story.language
        if self.records == "bytes":
            # copied: orjson's bytes keep the 4 KiB buffer they were written into (orjson 3.13), ~8x the record
            self.docs[article_id] = bytes(memoryview(orjson.dumps(doc)))
            self.docs[NEXT_KEY] = b"%d" % (seq + 1)
        else:
            self.docs[article_id] = doc
            self.docs[NEXT_KEY] = seq + 1
        self.buckets.next = seq + 1
        self.buckets.add(article_id, doc, self.config, fp)

    def prune(self, *, now: float, limit: int | None = None) -> int:
        """Forget the oldest articles that left the retention window, with their bucket entries.

        Walks the retention queue from its head, so the cost is proportional to
        what is dropped (``limit`` bounds it per call); returns how many were dropped.
        """
        self.sync()
        return self._prune(now, limit)

    def _prune(self, now: float, limit: int | None) -> int:
        """:meth:`prune` on buckets already synchronised with ``docs`` (each table read costs in the service)."""
        buckets = self.buckets
        dropped = 0
        start = buckets.head
        while buckets.head < buckets.next and (limit is None or dropped < limit):
            article_id = buckets.queue.get(buckets.head)
            value = None if article_id is None else self.docs.get(article_id)
            doc = None if value is None else _record(value)
            if article_id is not None and doc is not None and doc.get("n") == buckets.head:
                if now - float(doc["t"]) <= self.config.retention_s:
                    break
                buckets.remove(doc, self.config)
                del self.docs[article_id]
                dropped += 1
            buckets.queue.pop(buckets.head)
            buckets.advance()
        if buckets.head != start:
            buckets.expire()
        return dropped
