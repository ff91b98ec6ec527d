"""Speed of the entities core alone: ``extract_entities`` on realistic articles, one core.

Usage::

    .venv/bin/python bench/bench_entities.py [--corpus FILE.jsonl] [--seconds 5] [--profile]

The corpus is the seed articles (``seeds/*.txt``) and ``tests/data/*.txt`` by default, or the
``title``/``body`` of every line of a JSONL file (e.g. ``../shared/eval/dev.jsonl``).  Texts are
put through the normalizer's ``display_form``/``matching_form`` first, as the pipeline does, and
that step is *not* timed: the entities stage receives both forms ready-made.

Prints the corpus size, the first pass over the corpus (cold caches) and the steady-state rate in
articles/s and MB/s.  No assertion: the target (>= 2,000 articles/s for ~6 KB articles) is
reported in docs/entities.md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.entities.core import Gazetteer, extract_entities  # noqa: E402
from services.normalizer.textforms import display_form, matching_form  # noqa: E402


def load_corpus(path: Path | None) -> list[str]:
    if path is None:
        files = sorted((ROOT / "seeds").glob("*.txt")) + sorted((ROOT / "tests" / "data").glob("*.txt"))
        return [f.read_text(encoding="utf-8") for f in files]
    texts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                texts.append(f"{obj.get('title', '')}\n\n{obj.get('body', '')}")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=None, help="JSONL file with title/body per line")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to run the steady-state loop")
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args()

    t0 = time.perf_counter()
    gaz = Gazetteer.load()
    load_s = time.perf_counter() - t0
    docs = [(d, matching_form(d)) for d in (display_form(t) for t in load_corpus(args.corpus))]
    size = sum(len(d.encode("utf-8")) for d, _ in docs)
    print(f"gazetteer: {len(gaz)} entries, {len(gaz.index)} alias keys, loaded in {load_s * 1000:.0f} ms")
    print(f"corpus: {len(docs)} articles, mean {size / len(docs) / 1024:.1f} KB (UTF-8)")

    t0 = time.perf_counter()
    found = sum(len(extract_entities(d, m, gazetteer=gaz)) for d, m in docs)
    cold = time.perf_counter() - t0
    print(f"first pass (cold caches): {len(docs) / cold:,.0f} articles/s, {found} entities")

    # Rounds of ~0.5 s; the best round is reported too, since other processes share the machine.
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    rates: list[float] = []
    n, total = 0, 0.0
    while total < args.seconds:
        t0 = time.perf_counter()
        done = 0
        while (elapsed := time.perf_counter() - t0) < 0.5:
            for d, m in docs:
                extract_entities(d, m, gazetteer=gaz)
            done += len(docs)
        rates.append(done / elapsed)
        n, total = n + done, total + elapsed
    if profiler:
        profiler.disable()
    kb = size / len(docs) / 1024
    print(f"steady state: mean {n / total:,.0f} articles/s, best round {max(rates):,.0f} articles/s "
          f"({max(rates) * kb / 1024:.1f} MB/s; {n} articles in {total:.1f} s)")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
