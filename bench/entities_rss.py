"""Peak memory of an entities worker's core: ``python -m bench.entities_rss [DEV.jsonl] [N]``.

The messages the entities stage receives for the dev set (if given) and ``N`` generated bench articles are made
first, in this process, by the offline pipeline; then a fresh Python process loads only what an entities worker
loads (the gazetteer, its knowledge base and, unless ``RASD_ENTITIES_TAGGER=false``, the tagger's model), runs every
message through the stage's edge (:func:`services.common.stage.process_message`), and reports its peak resident
set size (``ru_maxrss``) after loading and after the messages.  Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import resource, sys, time
from services.entities.core import Gazetteer
from services.entities.stage import EntitiesStage
from services.common.stage import process_message
t0 = time.perf_counter()
stage = EntitiesStage(Gazetteer.load())
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
load_s = time.perf_counter() - t0
import orjson
messages = [orjson.loads(line)["v"].encode("latin-1") for line in open(sys.argv[1], encoding="utf-8")]
for m in messages:
    process_message(stage, m, now=time.time(), topic="unique")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(orjson.dumps({"tagger": stage.tagger is not None, "messages": len(messages), "load_s": round(load_s, 2),
                    "rss_after_load_mb": round(loaded / 1024, 1), "peak_rss_mb": round(peak / 1024, 1)}).decode())
"""


def main(argv: list[str]) -> int:
    from rasd.inputs import read_articles
    from rasd.offline import OfflinePipeline

    from .articles import generate

    dev = Path(argv[0]) if argv and not argv[0].isdigit() else None
    n = int(argv[-1]) if argv and argv[-1].isdigit() else 2000
    raws = list(read_articles([dev])) if dev else []
    raws += generate(n)
    pipeline = OfflinePipeline()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as fh:
        count = 0
        for raw in raws:
            for emit in pipeline.run(raw, now=1.0e9).get("unique", []):
                fh.write(json.dumps({"v": emit.value.decode("latin-1")}) + "\n")
                count += 1
        path = fh.name
    try:
        out = subprocess.run([sys.executable, "-c", _CHILD, path], check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    finally:
        os.unlink(path)
    print(out.stdout.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
