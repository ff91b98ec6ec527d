"""5-fold cross-validation of Arabic entity extraction on the vendored ANERcorp train split.

    python -m scripts.ner_cv [--folds 5] [--jobs 2] [--models DIR] [--json OUT.json] [--search]

The sentences are cut into five contiguous folds (by sentence, in corpus order).  For each fold a tagger is
trained on the other four with the shipped training options (:mod:`services.entities.train`), and three systems
are run on the fold's text, article-sized groups of consecutive sentences at a time
(:func:`services.entities.corpus.chunk_doc`):

* **rules** — :func:`services.entities.core.extract_entities` as it is without a tagger;
* **tagger** — the tagger's entities alone (linked to the gazetteer, no rule);
* **shipped** — :func:`services.entities.hybrid.extract`'s combination (:data:`hybrid.SHIPPED`).

Scoring is exact match of typed entities over corpus words (an entity's character span is mapped to the corpus
words holding its first and last characters, so an entity that leaves a word's proclitic out still covers that
word), PERSON/ORG/LOC (MISC is not scored), precision/recall/F1 per type and micro-averaged over the three.
Each table is given twice: exact, and boundary-tolerant (same type, overlapping), since the corpus brackets some
names differently from Rasd's gazetteer.  ``--search`` also scores every combination of the rule families (drop,
fill, override or agree for five families, drop or fill for short forms: 2,048, the tagger's unknown entities kept
from probability 0.5) and lists them best first: :data:`hybrid.SHIPPED` is, of those reaching 0.70 exact micro-F1,
the best on the boundary-tolerant micro-F1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from services.entities import hybrid
from services.entities.core import Gazetteer, extract_entities
from services.entities.corpus import ChunkDoc, Sentence, chunk_doc, chunks, read_corpus
from services.entities.tagger import Tagger
from services.entities.train import OPTIONS, train

TYPES = ("PERSON", "ORG", "LOC")
Entity3 = tuple[int, int, str]


def folds(sentences: Sequence[Sentence], k: int) -> list[tuple[int, int]]:
    n = len(sentences)
    return [(i * n // k, (i + 1) * n // k) for i in range(k)]


def _train_fold(args: tuple[int, int, int, str]) -> str:
    _fold, lo, hi, path = args
    sentences = read_corpus()
    train([*sentences[:lo], *sentences[hi:]], Path(path), Gazetteer.load())
    return path


class Counts:
    """True/false positives and misses per type: exact (same first and last word, same type) and, in ``lenient``,
    overlapping (same type, sharing a word; each gold entity matched once) — the second does not count against
    a system the two corpora's bracket conventions ("شمال أفريقيا" vs "أفريقيا", "قطاع غزة" vs "غزة")."""

    def __init__(self, exact: bool = True) -> None:
        self.exact = exact
        self.tp: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.lenient: Counts | None = Counts(exact=False) if exact else None

    def add(self, predicted: set[Entity3], gold: set[Entity3]) -> None:
        if self.exact:
            for e in predicted:
                (self.tp if e in gold else self.fp)[e[2]] += 1
            for e in gold - predicted:
                self.fn[e[2]] += 1
            if self.lenient is not None:
                self.lenient.add(predicted, gold)
            return
        unmatched = sorted(gold)
        for e in sorted(predicted):
            hit = next((g for g in unmatched if g[2] == e[2] and g[0] <= e[1] and e[0] <= g[1]), None)
            if hit is None:
                self.fp[e[2]] += 1
            else:
                self.tp[e[2]] += 1
                unmatched.remove(hit)
        for g in unmatched:
            self.fn[g[2]] += 1

    def scores(self) -> dict[str, dict[str, float]]:
        out = {}
        for t in (*TYPES, "micro"):
            tp = sum(self.tp[x] for x in TYPES) if t == "micro" else self.tp[t]
            fp = sum(self.fp[x] for x in TYPES) if t == "micro" else self.fp[t]
            fn = sum(self.fn[x] for x in TYPES) if t == "micro" else self.fn[t]
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            out[t] = {"p": round(p, 4), "r": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
                      "gold": tp + fn}
        return out


def _words(chunk: ChunkDoc, spans: Sequence[Any]) -> set[Entity3]:
    out = set()
    for s in spans:
        if s.type in TYPES:
            first, last = chunk.words_of(s.start, s.end)
            out.add((first, last, s.type))
    return out


def _gold(chunk: ChunkDoc) -> set[Entity3]:
    return {g for g in chunk.gold if g[2] in TYPES}


def run(k: int = 5, jobs: int = 2, models: Path | None = None, search: bool = False) -> dict[str, Any]:
    sentences = read_corpus()
    gazetteer = Gazetteer.load()
    bounds = folds(sentences, k)
    workdir = models or Path(tempfile.mkdtemp(prefix="rasd-ner-cv-"))
    workdir.mkdir(parents=True, exist_ok=True)
    paths = [str(workdir / f"fold{i}.crfsuite") for i in range(k)]
    todo = [(i, lo, hi, paths[i]) for i, (lo, hi) in enumerate(bounds) if not Path(paths[i]).exists()]
    t0 = time.perf_counter()
    if todo:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(_train_fold, todo))
    print(f"trained {len(todo)} fold models in {time.perf_counter() - t0:.0f} s ({workdir})", file=sys.stderr)

    policies: list[hybrid.Policy] = []
    if search:
        modes: tuple[hybrid.Mode, ...] = ("drop", "fill", "override", "agree")
        policies = [hybrid.Policy(dict(zip(hybrid.FAMILIES, (*combo, short), strict=True)), min_prob)
                    for combo in itertools.product(modes, repeat=len(hybrid.FAMILIES) - 1)
                    for short in ("drop", "fill") for min_prob in (0.5,)]
    systems = {"rules": Counts(), "tagger": Counts(), "shipped": Counts()}
    searched = [Counts() for _ in policies]
    per_fold: list[dict[str, Any]] = []
    for i, (lo, hi) in enumerate(bounds):
        tagger = Tagger(gazetteer, Path(paths[i]))
        fold_counts = {"rules": Counts(), "tagger": Counts(), "shipped": Counts()}
        for group in chunks(sentences[lo:hi], OPTIONS["chunk_words"]):
            chunk = chunk_doc(group)
            gold = _gold(chunk)
            rules_alone = _words(chunk, extract_entities(chunk.text, chunk.match, gazetteer=gazetteer))
            rules = hybrid.rule_spans(chunk.doc, gazetteer)
            tagged = hybrid.tagger_spans(chunk.doc, gazetteer, tagger)
            found = {
                "rules": rules_alone,
                "tagger": _words(chunk, hybrid.combine(chunk.doc, rules, tagged, hybrid.TAGGER_ONLY)),
                "shipped": _words(chunk, hybrid.combine(chunk.doc, rules, tagged, hybrid.SHIPPED)),
            }
            for name, predicted in found.items():
                systems[name].add(predicted, gold)
                fold_counts[name].add(predicted, gold)
            for counts, policy in zip(searched, policies, strict=True):
                counts.add(_words(chunk, hybrid.combine(chunk.doc, rules, tagged, policy)), gold)
        per_fold.append({name: c.scores()["micro"]["f1"] for name, c in fold_counts.items()})
        print(f"fold {i}: {per_fold[-1]}", file=sys.stderr)
    result: dict[str, Any] = {
        "corpus": "ANERcorp train split (CAMeL Lab 2020), vendored",
        "folds": k,
        "sentences": len(sentences),
        "systems": {name: c.scores() for name, c in systems.items()},
        "systems_lenient": {name: c.lenient.scores() for name, c in systems.items() if c.lenient is not None},
        "per_fold_micro_f1": per_fold,
        "shipped_policy": {**hybrid.SHIPPED.families, "min_prob": hybrid.SHIPPED.min_prob},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if search:
        ranked = sorted(zip(searched, policies, strict=True), key=lambda cp: -cp[0].scores()["micro"]["f1"])
        result["search_top"] = [{"policy": {**p.families, "min_prob": p.min_prob},
                                 **{t: c.scores()[t]["f1"] for t in (*TYPES, "micro")},
                                 "lenient": {t: c.lenient.scores()[t]["f1"] for t in (*TYPES, "micro")}
                                 if c.lenient is not None else {}} for c, p in ranked]
    return result


def table(result: Mapping[str, Any], key: str = "systems") -> str:
    lines = ["| system | PERSON P/R/F1 | ORG P/R/F1 | LOC P/R/F1 | micro P/R/F1 |", "|---|---|---|---|---|"]
    for name, scores in result[key].items():
        cells = [f"{scores[t]['p']:.3f} / {scores[t]['r']:.3f} / **{scores[t]['f1']:.3f}**" for t in
                 (*TYPES, "micro")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", type=Path, default=None, help="where fold models are kept (reused if present)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--search", action="store_true", help="score every combination of the rule families")
    args = parser.parse_args(argv)
    result = run(args.folds, args.jobs, args.models, args.search)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print("\nlenient (same type, overlapping):")
    print(table(result, "systems_lenient"))
    for row in result.get("search_top", [])[:15]:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
