"""Exact and near-duplicate detection: the deduplicator's functional core.

No Faust and no I/O: :class:`DedupIndex` keeps its state in two injected
mappings (plain dicts in tests and ``rasd process``, changelog-backed Faust
tables in the service), and time is passed in.

Method
------
* **Fingerprint.** The body (the text after the headline line, in matching
  form) is cut into word tokens; an *exact* key is a hash of the token
  sequence, so whitespace, punctuation, tashkeel or digit forms never make a
  copy look new.  For near-duplicates the body's word ``k``-shingles are
  hashed once each and summarised by *one-permutation MinHash*: the shingle's
  64-bit hash chooses one of ``num_perm`` bins and the bin keeps its minimum.
  One pass over the shingles, instead of ``num_perm`` passes, keeps the core
  fast; empty bins are filled from the next non-empty bin (densification) so
  that short texts still compare.
* **Candidates.** The signature is split into ``bands`` LSH bands; an article
  sharing any band key with an indexed article is a candidate.
* **Decision.** A candidate whose estimated Jaccard similarity (share of equal
  bins) reaches ``threshold`` makes the article a near-duplicate of the
  candidate's *root* (the earliest article of its group), so ``duplicate_of``
  never points at another copy.
* **Replays.** A decision is stored per article id; the same id again returns
  the stored decision, so a replayed article is never a duplicate of itself.
* **Retention.** Indexed articles older than ``retention_s`` are ignored as
  candidates (and can be pruned).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.models import DedupVerdict, NormalizedArticle

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MASK64 = (1 << 64) - 1
_MAX_CANDIDATES_PER_BAND = 8


@dataclass(frozen=True)
class DedupConfig:
    """Tuning of the near-duplicate test (see ``docs``/README for the choice of defaults)."""

    threshold: float = 0.6
    num_perm: int = 128
    bands: int = 32
    shingle: int = 3
    retention_s: float = 14 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")


@dataclass(frozen=True)
class Fingerprint:
    """What the index needs to know about an article's content."""

    exact: str
    signature: tuple[int, ...]

    def band_keys(self, bands: int) -> list[str]:
        """One key per LSH band: the band number and a hash of its rows."""
        rows = len(self.signature) // bands
        keys = []
        for b in range(bands):
            chunk = struct.pack(f"<{rows}I", *self.signature[b * rows : (b + 1) * rows])
            keys.append(f"{b}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
        return keys


def _mix64(x: int) -> int:
    """SplitMix64 finaliser: spreads a combined token hash over 64 bits."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK64
    return x ^ (x >> 31)


def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def body_tokens(article: NormalizedArticle) -> list[str]:
    """Word tokens of the body in matching form (the headline is excluded: copies often retitle)."""
    _, _, body = article.match_text.partition("\n")
    tokens = _TOKEN.findall(body or article.match_text)
    return tokens or _TOKEN.findall(article.match_text)


def fingerprint(article: NormalizedArticle, config: DedupConfig) -> Fingerprint:
    """Exact key and one-permutation MinHash signature of an article."""
    tokens = body_tokens(article)
    exact = hashlib.blake2b(" ".join(tokens).encode(), digest_size=16).hexdigest()
    cache: dict[str, int] = {}
    hashes = [cache.get(t) or cache.setdefault(t, _token_hash(t)) for t in tokens]
    k = min(config.shingle, len(hashes)) or 1
    n = config.num_perm
    bins = [-1] * n
    for i in range(max(len(hashes) - k + 1, 1)):
        h = 0
        for j in range(k):
            h = (h * 0x100000001B3 + (hashes[i + j] if i + j < len(hashes) else 0)) & _MASK64
        h = _mix64(h)
        b, v = h % n, (h // n) & 0xFFFFFFFF
        if bins[b] < 0 or v < bins[b]:
            bins[b] = v
    filled = [b for b in bins if b >= 0]
    if filled:
        # Densification: an empty bin borrows from the next non-empty bin (cyclically).
        for i in range(n):
            if bins[i] < 0:
                j = (i + 1) % n
                while bins[j] < 0:
                    j = (j + 1) % n
                bins[i] = bins[j]
    else:
        bins = [0] * n
    return Fingerprint(exact=exact, signature=tuple(bins))


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal bins)."""
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


def _pack(signature: tuple[int, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(signature)}I", *signature)).decode()


def _unpack(data: str) -> tuple[int, ...]:
    raw = base64.b64decode(data)
    return struct.unpack(f"<{len(raw) // 4}I", raw)


class DedupIndex:
    """The duplicate index over two mappings: ``docs`` (per article) and ``bands`` (LSH buckets).

    The mappings hold only JSON-friendly values so a Faust table can back them.
    Per indexed article ``docs`` holds the decision, the time and the packed
    signature (about 0.7 KB); ``bands`` holds the article id under each band key
    and ``exact:<hash>``.
    """

    def __init__(
        self,
        config: DedupConfig,
        docs: MutableMapping[str, Any] | None = None,
        bands: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.docs: MutableMapping[str, Any] = {} if docs is None else docs
        self.bands: MutableMapping[str, Any] = {} if bands is None else bands

    def _live(self, article_id: str, now: float) -> dict[str, Any] | None:
        doc = self.docs.get(article_id)
        if doc is None or now - float(doc["t"]) > self.config.retention_s:
            return None
        return dict(doc)

    def check(self, article: NormalizedArticle, *, now: float) -> DedupVerdict:
        """Decide whether ``article`` duplicates an indexed one, then index it.

        Idempotent per article id: a replay returns the first decision.
        """
        seen = self.docs.get(article.id)
        if seen is not None:
            return DedupVerdict.model_validate(seen["v"])
        fp = fingerprint(article, self.config)
        verdict = self._decide(article.id, fp, now)
        self._index(article.id, fp, verdict, now)
        return verdict

    def _decide(self, article_id: str, fp: Fingerprint, now: float) -> DedupVerdict:
        exact_id = self.bands.get(f"exact:{fp.exact}")
        if exact_id is not None and exact_id != article_id:
            doc = self._live(exact_id, now)
            if doc is not None:
                return DedupVerdict(status="duplicate", duplicate_of=doc["root"], similarity=1.0, kind="exact")
        best_id, best_sim = None, 0.0
        for key in fp.band_keys(self.config.bands):
            for cand in self.bands.get(key, ()):
                if cand in (article_id, best_id):
                    continue
                doc = self._live(cand, now)
                if doc is None:
                    continue
                sim = similarity(fp.signature, _unpack(doc["sig"]))
                if sim > best_sim:
                    best_id, best_sim = cand, sim
        if best_id is not None and best_sim >= self.config.threshold:
            root = self.docs[best_id]["root"]
            return DedupVerdict(status="duplicate", duplicate_of=root, similarity=round(best_sim, 4), kind="near")
        return DedupVerdict(status="unique", similarity=round(best_sim, 4))

    def _index(self, article_id: str, fp: Fingerprint, verdict: DedupVerdict, now: float) -> None:
        root = verdict.duplicate_of or article_id
        self.docs[article_id] = {"t": now, "root": root, "sig": _pack(fp.signature), "v": verdict.model_dump()}
        exact_key = f"exact:{fp.exact}"
        if exact_key not in self.bands:
            self.bands[exact_key] = article_id
        if verdict.kind == "exact":
            return  # an exact copy adds nothing to the near-duplicate buckets
        for key in fp.band_keys(self.config.bands):
            ids = list(self.bands.get(key, ()))
            if article_id not in ids and len(ids) < _MAX_CANDIDATES_PER_BAND:
                self.bands[key] = [*ids, article_id]

    def prune(self, *, now: float) -> int:
        """Forget articles older than the retention window; returns how many were dropped."""
        old = [k for k, d in self.docs.items() if now - float(d["t"]) > self.config.retention_s]
        for k in old:
            del self.docs[k]
        return len(old)
