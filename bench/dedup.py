"""The deduplicator core alone: articles per second on one core, and state bytes per indexed article.

* **Speed.** :meth:`DedupIndex.check` (fingerprint, candidates, story, index, incremental prune)
  over already-normalized articles: the generated ~6 KB articles of :mod:`bench.articles`
  (12 % near-copies), and the shared development articles when ``../shared`` is there.
  ``articles / CPU seconds`` of this single-threaded process (``time.process_time``), best of
  ``ROUNDS``, each round on a fresh index.  Target (issue 7): 2,000 articles/s.
* **State.** After indexing, every entry of both mappings is serialised as the Faust tables
  store it (JSON key + JSON value); the total divided by the number of indexed articles is the
  state per article, including its band, story-posting, exact-key and queue entries.  Target: at
  most 1 KiB.  Then a stream three retention windows long checks that pruning keeps it bounded.

``python -m bench.dedup [N]`` prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from schemas.models import NormalizedArticle, RawArticle
from services.deduplicator.core import NEXT_KEY, DedupConfig, DedupIndex
from services.normalizer.stage import NormalizerStage

from .articles import generate

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"
ROUNDS = 3
TARGET_SPEED = 2000.0
TARGET_BYTES = 1024


def normalize(raws: list[bytes]) -> list[NormalizedArticle]:
    stage = NormalizerStage()
    out = []
    for raw in raws:
        article = stage.handle(RawArticle.model_validate_json(raw), now=0.0)[0].value
        assert isinstance(article, NormalizedArticle)
        out.append(article)
    return out


def speed(articles: list[NormalizedArticle]) -> dict[str, float]:
    """Best-of-``ROUNDS`` articles per CPU second, each round on an empty index."""
    best = float("inf")
    for _ in range(ROUNDS):
        index = DedupIndex(DedupConfig())
        gc.collect()
        cpu0 = time.process_time()
        for i, article in enumerate(articles):
            index.check(article, now=float(i))
        best = min(best, time.process_time() - cpu0)
    size = sum(len(a.text.encode()) for a in articles) / len(articles)
    return {"articles": len(articles), "avg_text_bytes": round(size), "per_second": round(len(articles) / best)}


def state_bytes(mapping: Mapping[str, Any], kinds: dict[str, int], kind_of: Any) -> None:
    """Add each entry's serialised bytes (JSON key + JSON value, as the Faust tables store them) to its kind."""
    for key, value in mapping.items():
        kind = kind_of(key)
        kinds[kind] = kinds.get(kind, 0) + len(orjson.dumps(key)) + len(orjson.dumps(value))


def state(articles: list[NormalizedArticle]) -> dict[str, Any]:
    """State per indexed article after indexing ``articles`` (no pruning yet)."""
    index = DedupIndex(DedupConfig())
    for i, article in enumerate(articles):
        index.check(article, now=float(i))
    parts: dict[str, int] = {}
    state_bytes(index.docs, parts, lambda key: "counter" if key == NEXT_KEY else "docs")
    n = index.indexed
    return {
        "indexed": n,
        "bytes_per_article": round(sum(parts.values()) / n),
        "by_part": {k: round(v / n) for k, v in sorted(parts.items())},
    }


def retention(articles: list[NormalizedArticle]) -> dict[str, Any]:
    """Articles spread over three retention windows: the index must hold only about one window."""
    config = DedupConfig()
    step = 3 * config.retention_s / len(articles)
    index = DedupIndex(config)
    peak = 0
    for i, article in enumerate(articles):
        index.check(article.model_copy(update={"id": f"r{i}"}), now=i * step)
        peak = max(peak, index.indexed)
    return {
        "articles": len(articles),
        "per_window": round(config.retention_s / step),
        "peak_indexed": peak,
        "final_indexed": index.indexed,
        "final_bucket_keys": len(index.buckets.band_map()) + len(index.buckets.stories)
        + len(index.buckets.exact_map()),
    }


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 3000
    generated = normalize(generate(n))
    report: dict[str, Any] = {
        "speed_generated": speed(generated),
        "state_generated": state(generated),
        "retention_generated": retention(generated),
        "targets": {"per_second": TARGET_SPEED, "bytes_per_article": TARGET_BYTES},
    }
    if DEV.exists():
        dev = normalize([line.encode() for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()])
        report["speed_dev"] = speed(dev * 20)  # replays after the first pass: same ids, decided once
        report["state_dev"] = state(dev)
        report["speed_dev_distinct"] = speed(
            [a.model_copy(update={"id": f"{a.id}-{k}"}) for k in range(20) for a in dev]
        )
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
