"""Reading the stages' JSON-lines data files (gazetteer, lexicon) with errors that name file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def read_jsonl(path: Path, error: type[Exception] = ValueError) -> Iterator[tuple[str, dict[str, object]]]:
    """Yield ``("file:line", object)`` for every non-blank line; a line that is not a JSON object raises ``error``."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{where}: invalid JSON: {exc}") from exc
            if not isinstance(obj, dict):
                raise error(f"{where}: expected a JSON object")
            yield where, obj
