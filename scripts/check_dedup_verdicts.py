"""Every verdict of the dedup index over a fixed stream, to show a change of the index changes none.

``python scripts/check_dedup_verdicts.py OUT [--articles CACHE] [--records dict|bytes]`` writes one line per
:meth:`DedupIndex.check` (article id, status, duplicate_of, kind, similarity, story_id) to ``OUT``; run it
before and after a change and ``cmp`` the two files.

The stream: 3,000 generated articles (:func:`bench.articles.generate`, seed 7: stories, 12 % near-copies), the
articles of ``tests/data`` (originals, story cases, the busy and held-out days), then families of exact and
near copies of 40 originals, 14 copies each (more than a band bucket's cap of 8 ids), interleaved with the rest
so that copies of an article arrive while earlier copies expire.  Three passes:

* ``prune``: 60 s between articles and a retention window of 700 articles (``retention_s`` = 42,000 s), with
  two jumps in time of a whole window (everything expires at once and the incremental prune, 4 records a
  check, lags behind: candidates expired but not yet pruned, full band buckets with expired ids);
* ``rebuild``: the same stream, and at three points a new :class:`DedupIndex` over the same ``docs`` mapping
  (``sync()`` rebuilds the buckets), the stream continuing on it; some articles are checked again (replays);
* ``nopruning``: the default configuration (14-day retention), 1 s apart, no pruning.

The articles are normalized once and cached (``--articles``, default ``/tmp/dedup_verdict_articles.jsonl``)
so that a change of the normalizer does not show up as a change of verdicts.  ``--records bytes`` stores the
records as orjson bytes; ``--segment 16,256`` makes the band and exact postings freeze, merge and expire
thousands of small segments (the defaults freeze one on this stream).
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.models import NormalizedArticle, RawArticle
from services.deduplicator.core import DedupConfig, DedupIndex

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
DATA_FILES = ("originals.jsonl", "story_cases.jsonl", "stories_busy_day.jsonl", "stories_holdout.jsonl")
CACHE = Path("/tmp/dedup_verdict_articles.jsonl")
FAMILIES = 40
COPIES = 14


def make_articles() -> list[dict[str, Any]]:
    """The stream's normalized articles, JSON-friendly, in stream order."""
    from bench.articles import generate
    from bench.dedup import normalize
    from services.normalizer.core import normalize as normalize_raw

    generated = normalize(generate(3000, seed=7))
    rows: list[NormalizedArticle] = list(generated)
    for name in DATA_FILES:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = RawArticle.model_validate(json.loads(line))
                rows.append(normalize_raw(raw, now=datetime(2026, 3, 14, tzinfo=UTC)))
    rng = random.Random(18)
    originals = rng.sample(generated[:1500], FAMILIES)
    out = [a.model_dump(mode="json") for a in rows]
    for f, original in enumerate(originals):
        for c in range(COPIES):
            copy = original.model_dump(mode="json")
            copy["id"] = f"fam{f}-c{c}"
            lines = [copy["text"].split("\n"), copy["match_text"].split("\n")]
            if c % 2 and len(lines[0]) == len(lines[1]) > 3:  # a near copy: a line of the body dropped
                drop = rng.randrange(1, len(lines[0]))
                for name, parts in zip(("text", "match_text"), lines, strict=True):
                    copy[name] = "\n".join(parts[:drop] + parts[drop + 1 :])
            # spread the family over the stream: positions after the original
            at = rng.randrange(min(len(out), 400 + c * 250), len(out) + 1)
            out.insert(at, copy)
    return out


def load(cache: Path) -> list[NormalizedArticle]:
    if not cache.exists():
        cache.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in make_articles()), encoding="utf-8")
    return [NormalizedArticle.model_validate_json(line) for line in cache.read_text(encoding="utf-8").splitlines()]


def new_index(config: DedupConfig, docs: Any, records: str | None) -> DedupIndex:
    if records is None:
        return DedupIndex(config, docs)
    if "records" not in inspect.signature(DedupIndex).parameters:
        raise SystemExit("this DedupIndex has no records= option")
    return DedupIndex(config, docs, records="bytes" if records == "bytes" else "dict")


def line(tag: str, article_id: str, v: Any) -> str:
    return f"{tag}\t{article_id}\t{v.status}\t{v.duplicate_of}\t{v.kind}\t{v.similarity!r}\t{v.story_id}"


def run(articles: list[NormalizedArticle], records: str | None) -> list[str]:
    out: list[str] = []
    n = len(articles)
    # prune: 60 s apart, a 700-article window, two jumps of a whole window
    config = DedupConfig(retention_s=700 * 60.0)
    index = new_index(config, None, records)
    now = 0.0
    for i, a in enumerate(articles):
        now += 60.0
        if i in (n // 3, 2 * n // 3):
            now += config.retention_s
        out.append(line("prune", a.id, index.check(a, now=now)))
    out.append(f"prune\tindexed\t{index.indexed}")
    # rebuild: the same, with three restarts over the same docs and some replays
    index = new_index(config, None, records)
    docs = index.docs
    now = 0.0
    for i, a in enumerate(articles):
        now += 60.0
        if i in (n // 3, 2 * n // 3):
            now += config.retention_s
        if i in (n // 4, n // 2, 3 * n // 4):
            index = new_index(config, docs, records)
        out.append(line("rebuild", a.id, index.check(a, now=now)))
        if i % 97 == 0 and i >= 200:
            again = articles[i - 150]
            out.append(line("replay", again.id, index.check(again, now=now)))
    out.append(f"rebuild\tindexed\t{index.indexed}")
    # no pruning: the defaults
    index = new_index(DedupConfig(), None, records)
    for i, a in enumerate(articles):
        out.append(line("nopruning", a.id, index.check(a, now=float(i))))
    fresh = new_index(DedupConfig(), index.docs, records)
    fresh.sync()
    out.append(f"nopruning\tindexed\t{fresh.indexed}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=Path, default=CACHE)
    parser.add_argument("--records", choices=("dict", "bytes"), default=None)
    parser.add_argument("--segment", help="postings segment and block spans (e.g. 16,256), to freeze, "
                        "merge and expire many segments on a short stream")
    args = parser.parse_args(argv)
    if args.segment:
        from services.deduplicator import postings

        postings.SEGMENT, postings.BLOCK = (int(x) for x in args.segment.split(","))
    articles = load(args.articles)
    lines = run(articles, args.records)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for row in lines:
        fields = row.split("\t")
        if len(fields) > 4:
            key = f"{fields[0]}:{fields[2]}:{fields[4]}"
            counts[key] = counts.get(key, 0) + 1
    print(json.dumps({"articles": len(articles), "lines": len(lines), "verdicts": counts}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
