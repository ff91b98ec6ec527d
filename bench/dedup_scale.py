"""The deduplicator's index at scale: ``python -m bench.dedup_scale [--sizes 10000,100000,1000000]``.

Issue 18, item 3.  The index is filled to each size in a fresh subprocess (so RSS is per size) and the bench
reports, per size:

* ``rss_bytes_per_article``: resident set size after the fill minus that of the same process with an empty
  index (profiler, caches and pool already loaded), divided by the articles indexed — the worker memory an
  indexed article costs (its ``docs`` record *and* its in-memory buckets);
* ``state_bytes_per_article``: the ``docs`` mapping serialised as the Faust changelog holds it (JSON key +
  JSON value per entry, ``orjson``; with ``--records bytes``, the default, the value is the record's orjson
  bytes as the index stores them: a raw-serialised table), per article;
* ``decision_us``: CPU (and wall) microseconds per :meth:`DedupIndex.check` of real normalized articles that
  are not in the index (generated with another seed), median and spread over ``--repeats`` passes;
* ``recovery``: what a restarted worker does before its first decision.  ``rebuild_s``: a new
  :class:`DedupIndex` over the filled ``docs`` mapping, :meth:`DedupIndex.sync` (the buckets rebuilt from the
  records), median and spread over the repeats, in the fill process; ``fresh_process``: another fresh
  process reads the changelog the fill wrote (one JSON key and value per record), decodes it into a dict as a
  Faust table replay does (``replay_s``: the key decoded, the value decoded as JSON with ``--records dict``,
  kept as bytes with ``--records bytes``), then syncs (``rebuild_s``), with the RSS of the records alone and
  of the rebuilt buckets (Kafka's own fetch of the changelog is not included);
* ``breakdown`` (sizes up to ``--breakdown-max``): ``sys.getsizeof`` summed over every object reachable from
  each structure (``docs`` first, then the buckets; an object shared with an earlier structure — a sequence
  number, an exact key — counts once, where it is first reached), per article; the numpy arrays of the band
  and exact postings by their ``nbytes`` beside their open (dict) segment.

``--records`` says how the index stores its records (``DedupIndex(records=...)``): ``bytes`` (the default:
orjson bytes, what the service stores once its table is raw-serialised) or ``dict`` (decoded dicts, as a
JSON-serialised table holds them).

Then ``on_paper`` extrapolates each figure to 4.2M articles along the slope between the two largest sizes.

How the index is filled (the approximation)
-------------------------------------------
Normalizing and profiling a million articles would take hours (the story profiler runs the entity tagger,
~1 ms per article), so only a *pool* of real articles goes through the whole path: ``--pool`` generated
articles (:func:`bench.articles.generate`: ~6 KB Arabic articles in stories, 12 % near-copies), normalized,
and decided one by one by a real :class:`DedupIndex`.  Its records are the templates.  Article ``i`` of the
fill is template ``i % pool`` in generation ``k = i // pool``: generation 0 is the pool's own records as they
are; later generations are variants of them with the id ``<template id>~<k>`` and

* the MinHash signature XORed bin by bin with a mask drawn from a RNG seeded by (the template's root, ``k``),
  about 10 % of the bins left as they are — so variants of different templates share no more bands than
  unrelated articles do, while a near-copy and its root get the same mask and keep exactly the bins they
  shared (so copies land in their root's band buckets, as in the stream);
* a new exact key (a hash of the template's key and ``k``: an exact copy keeps its root's);
* half of the story words (32-bit hashes) replaced by draws from a Zipf-like vocabulary of 200,000 words
  (``V ** u``, log-uniform), so the story postings and document frequencies grow as a finite news vocabulary
  makes them grow; the tagged features (places, regions, actors: a finite gazetteer) kept;
* the template's verdict, with ``duplicate_of`` and ``story_id`` renamed into the same generation.

Each variant goes into the index through :meth:`DedupIndex._index` — the code that indexes a decided article in
the stream (record into ``docs``, counter, :meth:`Buckets.add` with the fingerprint) — so the memory is what a
worker holds.  Articles are ``DT`` = 14 days / 4.2M ≈ 0.29 s apart (the rate that fills the retention window
with 4.2M articles), so at every size nothing has left the retention window and no pruning happens, and the
probes are decided just after the last indexed article.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson

from schemas.models import DedupVerdict, NormalizedArticle
from services.deduplicator.core import (
    NEXT_KEY,
    DedupConfig,
    DedupIndex,
    Fingerprint,
    _decoded_profile,
    _unpack,
    band_keys,
    stored_profile,
    verdict_of,
)
from services.deduplicator.postings import Postings
from services.deduplicator.stories import StoryProfile, StoryProfiler

from .articles import generate
from .dedup import normalize

Records = Literal["bytes", "dict"]
SIZES = (10_000, 100_000, 1_000_000)
PAPER = 4_200_000
DT = 14 * 24 * 3600.0 / PAPER
T0 = 1_800_000_000.0
VOCABULARY = 200_000
KEEP_BINS = 0.1  # share of a variant's MinHash bins left as the template's
KEEP_WORDS = 0.5  # share of a variant's story words left as the template's
TARGET_RSS = 1024
TARGET_RECOVERY_S = 60.0
TARGET_DECISION = 0.2  # within ±20 % of the 10k value


# ---------------------------------------------------------------------------------------------- the pool


def build_pool(n: int, probes: int, seed: int = 7) -> dict[str, Any]:
    """Templates (the records of ``n`` generated articles decided by a real index) and ``probes`` other
    normalized articles (another seed), JSON-friendly."""
    index = DedupIndex(DedupConfig())
    for i, article in enumerate(normalize(generate(n, seed=seed))):
        index.check(article, now=T0 + i * DT)
    templates = [[key, doc] for key, doc in index.docs.items() if key != NEXT_KEY]
    templates.sort(key=lambda item: int(item[1]["n"]))
    others = normalize(generate(probes, seed=seed + 1000, prefix="probe"))
    return {"templates": templates, "probes": [a.model_dump(mode="json") for a in others]}


def probe_articles(pool: dict[str, Any]) -> list[NormalizedArticle]:
    """The probes, published when first seen (so their story window is the fill's last days)."""
    return [NormalizedArticle.model_validate({**a, "published_at": None, "ingested_at": 0.0}) for a in pool["probes"]]


# ---------------------------------------------------------------------------------------------- the fill


def _word(rng: random.Random) -> int:
    """A story word's 32-bit hash from a Zipf-like vocabulary (rank ``VOCABULARY ** u``)."""
    rank = int(VOCABULARY ** rng.random())
    return int.from_bytes(hashlib.blake2b(rank.to_bytes(4, "little"), digest_size=4).digest(), "little")


def _renamed(value: str | None, k: int) -> str | None:
    return value if value is None or k == 0 else f"{value}~{k}"


def variant(
    template_id: str, doc: dict[str, Any], k: int, config: DedupConfig
) -> tuple[str, Fingerprint, DedupVerdict]:
    """Generation ``k`` of a template record: its id, the fingerprint and the verdict to index it with."""
    verdict = verdict_of(template_id, doc)
    profile = stored_profile(doc) or StoryProfile()
    signature: tuple[int, ...] = _unpack(doc["g"]) if "g" in doc else ()
    exact = doc["x"]
    if k:
        root = doc.get("d", template_id)
        family = random.Random(f"{root}~{k}")
        masks = [family.getrandbits(16) if family.random() >= KEEP_BINS else 0 for _ in range(config.num_perm)]
        signature = tuple(v ^ m for v, m in zip(signature, masks, strict=False))
        exact = hashlib.blake2b(f"{exact}~{k}".encode(), digest_size=8).hexdigest()
        if profile.words:
            own = random.Random(f"{template_id}~{k}")
            words = tuple(sorted({w if own.random() < KEEP_WORDS else _word(own) for w in profile.words}))
            profile = StoryProfile(words, profile.places, profile.regions, profile.countries, profile.background,
                                   profile.actors, profile.categories, profile.language)
        verdict = verdict.model_copy(update={
            "duplicate_of": _renamed(verdict.duplicate_of, k), "story_id": _renamed(verdict.story_id, k),
        })
    bands = tuple(band_keys(signature, config.bands)) if signature else ()
    return _renamed(template_id, k) or template_id, Fingerprint(exact, signature, profile, bands), verdict


def fill(index: DedupIndex, templates: list[list[Any]], n: int) -> float:
    """Index ``n`` articles (see the module docstring) through :meth:`DedupIndex._index`; returns the time
    of the last one."""
    index.sync()
    now = T0
    for i in range(n):
        k, j = divmod(i, len(templates))
        template_id, doc = templates[j]
        article_id, fp, verdict = variant(template_id, doc, k, index.config)
        now = T0 + i * DT
        index._index(article_id, fp, verdict, now, now)
    return now


# ---------------------------------------------------------------------------------------------- measures


def rss() -> int:
    """Current resident set size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def settled_rss() -> int:
    gc.collect()
    return rss()


def spread(values: list[float], digits: int = 1) -> dict[str, Any]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "runs": [round(v, digits) for v in values]}


def decide(index: DedupIndex, probes: list[NormalizedArticle], now: float, tag: str) -> tuple[float, float]:
    """CPU and wall microseconds per check of the probes, then the probes forgotten again.

    Each pass starts from the same index: the probes' records are removed afterwards (else the next pass's
    probes would be exact copies of them), and the cache of decoded story profiles is emptied before (else
    the next pass would find its candidates' profiles decoded): every pass decides the probes as new
    articles whose candidates were never decoded — the cold, conservative case.
    """
    batch = [p.model_copy(update={"id": f"{p.id}~{tag}"}) for p in probes]
    _decoded_profile.cache_clear()
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for article in batch:
        index.check(article, now=now)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    for article in batch:
        doc = index.docs.pop(article.id)
        index.buckets.remove(doc, index.config)
    return cpu / len(batch) * 1e6, wall / len(batch) * 1e6


def changelog(docs: dict[str, Any]) -> Iterable[tuple[bytes, bytes]]:
    """The ``docs`` entries as the changelog holds them (JSON key, JSON value; a value stored as bytes as is)."""
    for key, value in docs.items():
        yield orjson.dumps(key), value if isinstance(value, bytes) else orjson.dumps(value)


def deep_sizes(parts: list[tuple[str, Any]]) -> dict[str, int]:
    """``sys.getsizeof`` over every object reachable from each part (dicts, lists, tuples, sets), an object
    counted once, in the first part that reaches it."""
    seen: set[int] = set()
    out: dict[str, int] = {}
    for name, root in parts:
        total = 0
        stack = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            total += sys.getsizeof(obj)
            if isinstance(obj, dict):
                stack.extend(obj.keys())
                stack.extend(obj.values())
            elif isinstance(obj, list | tuple | set | frozenset):
                stack.extend(obj)
        out[name] = total
    return out


def key_counts(postings: Postings) -> npt.NDArray[np.int64]:
    """How many entries each distinct key of a postings structure has (frozen and open segments)."""
    keys = [seg.unpacked()[0] for seg in postings.frozen]
    keys.append(np.repeat(np.array(list(postings.open), dtype=np.uint64),
                          [len(ids) for ids in postings.open.values()]))
    _, counts = np.unique(np.concatenate(keys), return_counts=True)
    return counts.astype(np.int64)


def breakdown(index: DedupIndex) -> dict[str, float]:
    """Bytes per indexed article of each structure (:func:`deep_sizes`; postings arrays by their ``nbytes``)."""
    b = index.buckets
    sizes = deep_sizes([("docs", index.docs), ("bands_open", b.bands.open), ("stories", b.stories), ("df", b.df),
                        ("exact_open", b.exact.open), ("queue", b.queue.ids), ("dead", b.dead)])
    sizes["bands_arrays"] = b.bands.nbytes
    sizes["exact_arrays"] = b.exact.nbytes
    n = index.indexed
    detail: dict[str, float] = {name: round(v / n) for name, v in sizes.items()}
    counts = key_counts(b.bands)
    detail["band_keys"] = round(len(counts) / n, 2)  # distinct band buckets per article
    detail["band_entries"] = round(int(counts.sum()) / n, 2)
    detail["band_singletons"] = round(int((counts == 1).sum()) / max(1, len(counts)), 3)
    detail["band_segments"] = len(b.bands.frozen)
    detail["story_keys"] = round(len(b.stories) / n, 2)
    detail["df_keys"] = round(len(b.df) / n, 2)
    return detail


def measure_size(
    n: int, pool: dict[str, Any], repeats: int, log: Path | None, breakdown_max: int, records: Records = "bytes"
) -> dict[str, Any]:
    """Everything for one size, in this (fresh) process."""
    config = DedupConfig()
    profiler = StoryProfiler.default()
    probes = probe_articles(pool)
    templates = pool["templates"]
    warm = DedupIndex(config, profiler=profiler, records=records)  # the token caches warmed as a worker's are
    fill(warm, templates, min(n, 200))
    decide(warm, probes, T0, "warm")
    del warm
    index = DedupIndex(config, profiler=profiler, records=records)
    index.sync()
    empty = settled_rss()
    t0 = time.perf_counter()
    last = fill(index, templates, n)
    fill_s = time.perf_counter() - t0
    full = settled_rss()
    docs = index.docs
    assert isinstance(docs, dict)
    state = 0
    out = open(log, "wb") if log else None  # noqa: SIM115
    try:
        for key, value in changelog(docs):
            state += len(key) + len(value)
            if out:
                out.write(key + b"\t" + value + b"\n")
    finally:
        if out:
            out.close()
    result: dict[str, Any] = {
        "articles": n,
        "fill_s": round(fill_s, 1),
        "rss_empty_mb": round(empty / 2**20, 1),
        "rss_full_mb": round(full / 2**20, 1),
        "rss_bytes_per_article": round((full - empty) / n),
        "state_bytes_per_article": round(state / n),
        "records": records,
        "band_buckets": len(key_counts(index.buckets.bands)),
        "story_postings": len(index.buckets.stories),
        "df_features": len(index.buckets.df),
    }
    if n <= breakdown_max:
        result["breakdown"] = breakdown(index)
    cpu, wall = [], []
    for r in range(repeats):
        c, w = decide(index, probes, last + DT, f"r{r}")
        cpu.append(c)
        wall.append(w)
    result["decision_us"] = {"probes": len(probes), "cpu": spread(cpu), "wall": spread(wall)}
    rebuild = []
    for _ in range(repeats):
        recovered = DedupIndex(config, docs, profiler=profiler, records=records)
        gc.collect()
        t0 = time.perf_counter()
        recovered.sync()
        rebuild.append(time.perf_counter() - t0)
        del recovered
    result["recovery"] = {"rebuild_s": spread(rebuild, 2)}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def recover(log: Path, records: Records = "bytes") -> dict[str, Any]:
    """A restarted worker: replay the changelog into a dict (values decoded from JSON for ``dict`` records, kept
    as the bytes a raw-serialised table gives for ``bytes``), then rebuild the buckets (fresh process)."""
    config = DedupConfig()
    profiler = StoryProfiler.default()
    empty = settled_rss()
    t0 = time.perf_counter()
    docs: dict[str, Any] = {}
    value_of: Callable[[bytes], Any] = bytes if records == "bytes" else orjson.loads
    with open(log, "rb") as f:
        for line in f:
            key, _, value = line.rstrip(b"\n").partition(b"\t")
            docs[orjson.loads(key)] = value_of(value)
    replay_s = time.perf_counter() - t0
    with_docs = settled_rss()
    index = DedupIndex(config, docs, profiler=profiler, records=records)
    t0 = time.perf_counter()
    index.sync()
    rebuild_s = time.perf_counter() - t0
    with_buckets = settled_rss()
    n = index.indexed
    return {
        "replay_s": round(replay_s, 2), "rebuild_s": round(rebuild_s, 2), "total_s": round(replay_s + rebuild_s, 2),
        "rss_docs_bytes_per_article": round((with_docs - empty) / n),
        "rss_buckets_bytes_per_article": round((with_buckets - with_docs) / n),
    }


# ---------------------------------------------------------------------------------------------- the run


def _child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.dedup_scale", *args], check=True, capture_output=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def on_paper(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each per-size figure extrapolated to :data:`PAPER` articles along the slope of the two largest sizes."""
    if len(results) < 2:
        return {}
    a, b = results[-2], results[-1]
    picks: dict[str, Callable[[dict[str, Any]], float]] = {
        "rss_mb": lambda r: r["rss_full_mb"] - r["rss_empty_mb"],
        "rebuild_s": lambda r: r["recovery"]["rebuild_s"]["median"],
        "decision_us": lambda r: r["decision_us"]["cpu"]["median"],
        "state_mb": lambda r: r["state_bytes_per_article"] * r["articles"] / 2**20,
    }
    if "fresh_process" in a["recovery"] and "fresh_process" in b["recovery"]:
        picks["fresh_recovery_s"] = lambda r: r["recovery"]["fresh_process"]["total_s"]
    out: dict[str, Any] = {"articles": PAPER, "from_sizes": [a["articles"], b["articles"]]}
    for name, pick in picks.items():
        slope = (pick(b) - pick(a)) / (b["articles"] - a["articles"])
        out[name] = round(pick(b) + slope * (PAPER - b["articles"]), 1)
    return out


def verdicts(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The done-when figures at the largest size measured."""
    big, small = results[-1], results[0]
    recovery = big["recovery"].get("fresh_process", {}).get("total_s", big["recovery"]["rebuild_s"]["median"])
    ratio = big["decision_us"]["cpu"]["median"] / small["decision_us"]["cpu"]["median"]
    return {
        "at_articles": big["articles"],
        "rss_per_article_ok": big["rss_bytes_per_article"] <= TARGET_RSS,
        "recovery_ok": recovery <= TARGET_RECOVERY_S,
        "decision_vs_smallest": round(ratio, 3),
        "decision_ok": abs(ratio - 1) <= TARGET_DECISION,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = ("articles", "RSS B/art", "state B/art", "decide µs cpu (min-max)", "rebuild s", "fresh replay+rebuild s",
            "fill s")
    rows = [head]
    for r in results:
        d, rec = r["decision_us"]["cpu"], r["recovery"]
        fresh = rec.get("fresh_process")
        rows.append((
            f"{r['articles']:,}", str(r["rss_bytes_per_article"]), str(r["state_bytes_per_article"]),
            f"{d['median']} ({d['min']}-{d['max']})", f"{rec['rebuild_s']['median']}",
            f"{fresh['replay_s']}+{fresh['rebuild_s']}" if fresh else "-", str(r["fill_s"]),
        ))
    widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dedup_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated index sizes")
    parser.add_argument("--repeats", type=int, default=3, help="decision passes and rebuilds per size")
    parser.add_argument("--pool", type=int, default=2000, help="real articles the fill is derived from")
    parser.add_argument("--probes", type=int, default=300, help="real articles decided per pass")
    parser.add_argument("--breakdown-max", type=int, default=100_000, help="largest size given a getsizeof breakdown")
    parser.add_argument("--no-fresh", action="store_true", help="skip the fresh-process changelog recovery")
    parser.add_argument("--records", choices=("bytes", "dict"), default="bytes",
                        help="how the index stores its records (DedupIndex(records=...))")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pool-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--recover", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.recover:
        print(json.dumps(recover(args.recover, args.records)))
        return 0
    if args.child:
        pool = orjson.loads(args.pool_file.read_bytes())
        print(json.dumps(measure_size(args.child, pool, args.repeats, args.log, args.breakdown_max, args.records)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp:
        pool_file = Path(tmp) / "pool.json"
        t0 = time.perf_counter()
        pool_file.write_bytes(orjson.dumps(build_pool(args.pool, args.probes)))
        print(f"pool of {args.pool} articles and {args.probes} probes: {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        for n in sizes:
            log = Path(tmp) / f"changelog-{n}.tsv"
            child = ["--child", str(n), "--pool-file", str(pool_file), "--repeats", str(args.repeats),
                     "--breakdown-max", str(args.breakdown_max), "--records", args.records]
            result = _child([*child, *([] if args.no_fresh else ["--log", str(log)])])
            if not args.no_fresh:
                result["recovery"]["fresh_process"] = _child(["--recover", str(log), "--records", args.records])
                log.unlink()
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()]},
        "pool": args.pool, "probes": args.probes, "repeats": args.repeats, "records": args.records,
        "sizes": results, "on_paper": on_paper(results), "done_when": verdicts(results),
        "targets": {"rss_bytes_per_article": TARGET_RSS, "recovery_s": TARGET_RECOVERY_S,
                    "decision_vs_10k": TARGET_DECISION},
    }
    print(table(results))
    print("on paper:", json.dumps(report["on_paper"]))
    print("done when:", json.dumps(report["done_when"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
