"""Every entity the entities stage finds in every article text at hand, one line each: a safety net for refactoring.

Usage::

    PYTHONPATH=. .venv/bin/python scripts/entities_dump.py OUT.txt [ROOT]
    cmp before.txt after.txt   # a refactoring that must not change the output: identical files

The texts: the title and body of every line of ``tests/data/*.jsonl`` (those with text), ``seeds/*``, the ANERcorp
train chunks (:mod:`services.entities.corpus`) and 500 generated bench articles put through the normalizer.  Each
text is extracted as Arabic and as English, with and without ``nisba``, with the rules alone and (Arabic) with the
learned tagger: the entities' text, type, canonical, name, start, end, confidence, lat, lon are written out.  ``ROOT``
(default: the repository) is where ``tests/data`` and ``seeds`` are read: a frozen copy keeps the comparison to the code
while others edit the test data.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.articles import generate
from schemas.models import RawArticle
from services.entities.core import Gazetteer, extract_entities
from services.entities.corpus import chunk_doc, chunks, read_corpus
from services.entities.tagger import Tagger
from services.normalizer.core import normalize
from services.normalizer.textforms import display_form, matching_form

ROOT = Path(__file__).resolve().parents[1]


def texts(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(label, display form, matching form) of every text."""
    out: list[tuple[str, str, str]] = []

    def add(label: str, raw: str) -> None:
        text = display_form(raw)
        out.append((label, text, matching_form(text)))

    for path in sorted((root / "tests" / "data").glob("*.jsonl")):
        for n, line in enumerate(path.read_bytes().splitlines()):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                for key in ("title", "body", "text", "value"):
                    if isinstance(obj.get(key), str) and obj[key].strip():
                        add(f"{path.name}:{n}:{key}", obj[key])
    for path in sorted((root / "seeds").iterdir()):
        if path.is_file():
            add(f"seeds/{path.name}", path.read_text(encoding="utf-8"))
    for k, group in enumerate(chunks(read_corpus())):
        chunk = chunk_doc(group)
        out.append((f"anercorp:{k}", chunk.text, chunk.match))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for k, raw in enumerate(generate(500)):
        try:
            article = normalize(RawArticle.model_validate_json(raw), now=now)
        except ValueError:
            continue
        out.append((f"bench:{k}", article.text, article.match_text))
    return out


def main() -> None:
    gaz = Gazetteer.load()
    tagger = Tagger(gaz)
    runs = [("ar", False, None), ("ar", True, None), ("en", False, None), ("en", True, None),
            ("ar", False, tagger), ("ar", True, tagger)]
    count = 0
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        for label, text, match in texts(Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT):
            for language, nisba, with_tagger in runs:
                entities = extract_entities(text, match, gazetteer=gaz, language=language, nisba=nisba,
                                            tagger=with_tagger)
                out.write(f"# {label} {language} nisba={nisba} tagger={with_tagger is not None} {len(entities)}\n")
                for e in entities:
                    out.write(orjson.dumps([e.text, e.type, e.canonical, e.name, e.start, e.end, e.confidence,
                                            e.lat, e.lon]).decode() + "\n")
                count += len(entities)
    print(f"{count} entities written to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
