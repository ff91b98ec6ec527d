"""Score ``rasd process`` on every annotated set at hand: ``make score``.

    python -m scripts.score_sets [--shared ../shared] [--json]

Sets, each processed from a fresh pipeline (as ``rasd process`` would):

* ``dev`` — the shared development set as annotated (its dates span 15 months);
* ``dev, one busy day`` — the same rewritten by the shared ``eval/busy_day.py`` so every article
  falls inside one day (what story grouping meets on a real news day);
* ``tests/data/stories_busy_day.jsonl`` — the project's own hand-written busy day (used to tune);
* ``tests/data/stories_holdout.jsonl`` — a second hand-written busy day, never read while tuning.

Scoring is the shared ``eval/score.py`` (so these are the figures the team is measured by); the
predictions go to a temporary directory, removed afterwards.  Needs ``../shared`` (a user's clone
has no such folder: then the shared sets are skipped and only the project's own sets are listed
as unscored).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from rasd.inputs import read_articles
from rasd.offline import process_all

ROOT = Path(__file__).resolve().parent.parent
OWN_SETS = (
    ("own busy day (tuning)", ROOT / "tests" / "data" / "stories_busy_day.jsonl"),
    ("own busy day (held out)", ROOT / "tests" / "data" / "stories_holdout.jsonl"),
)
BLOCKS = ("alerts", "dedup", "stories", "events")


def predict(gold: Path, out: Path) -> None:
    """``rasd process gold > out``, in-process."""
    with out.open("wb") as fh:
        for record in process_all(read_articles([gold])):
            fh.write(orjson.dumps(record) + b"\n")


def score(scorer: Path, gold: Path, pred: Path) -> dict[str, object]:
    """The shared scorer's JSON report."""
    done = subprocess.run(
        [sys.executable, str(scorer), str(gold), str(pred), "--json"], check=True, capture_output=True, text=True
    )
    report: dict[str, object] = json.loads(done.stdout)
    return report


def row(name: str, report: dict[str, object]) -> str:
    """One line of the table: F1 (precision/recall) per block, entity F1 first."""
    cells = [f"{name:26s}", f"n={report['articles']:<3}"]
    entities = report["entities"]
    assert isinstance(entities, dict)
    cells.append(f"entities {entities['all']['f1']:.3f}")
    for block in BLOCKS:
        figures = report.get(block)
        if isinstance(figures, dict):
            cells.append(f"{block} {figures['f1']:.3f} (P {figures['precision']:.3f} R {figures['recall']:.3f})")
    return "  ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared folder (eval/)")
    parser.add_argument("--json", action="store_true", help="print the full reports as JSON")
    parser.add_argument("--errors", action="store_true", help="also print each set's story and event errors")
    args = parser.parse_args(argv)
    scorer = args.shared / "eval" / "score.py"
    if not scorer.is_file():
        print(f"no scorer at {scorer}: make score needs the shared eval folder (SHARED=…)", file=sys.stderr)
        return 2
    reports: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="rasd-score-") as tmp:
        work = Path(tmp)
        dev = args.shared / "eval" / "dev.jsonl"
        busy = work / "dev-busy-day.jsonl"
        subprocess.run([sys.executable, str(args.shared / "eval" / "busy_day.py"), str(dev), str(busy)], check=True)
        sets = [("dev (as annotated)", dev), ("dev, one busy day", busy), *OWN_SETS]
        for name, gold in sets:
            if not gold.is_file():
                print(f"{name:26s}  missing: {gold}")
                continue
            pred = work / f"{gold.stem}.pred.jsonl"
            predict(gold, pred)
            reports[name] = score(scorer, gold, pred)
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=1))
        return 0
    for name, report in reports.items():
        print(row(name, report))
        if args.errors:
            for key in ("story_errors", "event_errors"):
                for line in report.get(key, []):  # type: ignore[union-attr]
                    print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
