"""Reading article files for ``rasd publish`` and ``rasd process``.

Accepted: ``.jsonl`` (one article object per line), ``.json`` (an object or a
list of objects), ``.txt`` (the seeds' format: the whole file is one article)
and directories of those.  Every article comes out as the bytes that would be
published to ``articles.raw``; JSON lines are passed through untouched so that
a malformed line reaches the pipeline (and its dead-letter topic) as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from schemas.codec import encode
from services.normalizer.core import parse_text_article

SUFFIXES = (".jsonl", ".json", ".txt")


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the article files inside directories named (sorted by name)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file()))
        elif path.suffix in SUFFIXES:
            files.append(path)
        else:
            raise ValueError(f"{path}: unsupported file type (expected {', '.join(SUFFIXES)} or a directory)")
    return files


def read_articles(paths: Iterable[Path]) -> Iterator[bytes]:
    """The raw message bytes of every article in ``paths``, in order."""
    for path in expand(paths):
        if path.suffix == ".txt":
            yield encode(parse_text_article(path.read_text(encoding="utf-8"), source=path.stem))
        elif path.suffix == ".jsonl":
            with path.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        yield line.rstrip(b"\r\n")
        else:
            data = orjson.loads(path.read_bytes())
            for item in data if isinstance(data, list) else [data]:
                yield orjson.dumps(item)
