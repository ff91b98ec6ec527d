"""The variant generator (tests/variants.py) over the shared development originals; prints recall and false copies.

``python -m scripts.dedup_variants [VARIANTS_PER_ORIGINAL]`` (needs ../shared/eval/dev.jsonl).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.variants import Original, score_variants

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"


def main(argv: list[str]) -> int:
    per = int(argv[0]) if argv else 20
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    originals = [Original(id=r["id"], language=r["language"], title=r["title"], body=r["body"],
                          published_at=r.get("published_at")) for r in rows if not r["gold"].get("duplicate_of")]
    report = {}
    for edits in (2, 3, 5, 8):
        score = score_variants(originals, per_original=per, edits=edits)
        report[f"{edits}_edits"] = {"originals": len(originals), "variants": score.variants,
                                    "recall": round(score.recall, 4), "false_duplicates": score.false_duplicates,
                                    "misses": (score.misses or [])[:5]}
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
