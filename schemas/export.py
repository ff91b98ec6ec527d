"""Export the topic models as JSON Schema files, one per topic, for consumers outside Python.

``schemas/json/<topic-key>.schema.json`` is generated from :data:`schemas.models.TOPIC_MODELS`
and committed, so that other teams can validate messages without reading Python.  The output
is deterministic (sorted keys, two-space indent, trailing newline): re-exporting unchanged
models rewrites identical bytes, and ``tests/unit/test_schemas.py`` fails when a model
changed without a re-export.

Usage::

    python -m schemas.export            # (re)write schemas/json/
    python -m schemas.export --check    # exit 1 and list stale files, write nothing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from schemas.models import TOPIC_MODELS

SCHEMA_DIR = Path(__file__).resolve().parent / "json"
"""Where the committed schema files live."""

SUFFIX = ".schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_filename(topic_key: str) -> str:
    """File name of the schema of the topic whose key (in ``TOPIC_MODELS``) is ``topic_key``."""
    return f"{topic_key}{SUFFIX}"


def render_schemas() -> dict[str, str]:
    """File name → exact file text, for every topic in ``TOPIC_MODELS``."""
    rendered: dict[str, str] = {}
    for key, model in TOPIC_MODELS.items():
        schema: dict[str, object] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"urn:rasd:schema:{key}",
            **model.model_json_schema(),
        }
        text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        rendered[schema_filename(key)] = text
    return rendered


def stale_files(out_dir: Path) -> list[Path]:
    """Files in ``out_dir`` that are missing, differ from the models, or belong to no topic."""
    expected = render_schemas()
    stale = [
        out_dir / name
        for name, text in expected.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    if out_dir.is_dir():
        stale.extend(p for p in sorted(out_dir.glob(f"*{SUFFIX}")) if p.name not in expected)
    return stale


def export_schemas(out_dir: Path) -> list[Path]:
    """Write one ``<topic-key>.schema.json`` per topic into ``out_dir``; return the paths written.

    Schema files of topics that no longer exist are removed, so the directory always mirrors
    ``TOPIC_MODELS`` exactly.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = render_schemas()
    for orphan in out_dir.glob(f"*{SUFFIX}"):
        if orphan.name not in expected:
            orphan.unlink()
    written: list[Path] = []
    for name, text in expected.items():
        path = out_dir / name
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (``python -m schemas.export [--check] [--out DIR]``)."""
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="output directory (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only verify; exit 1 listing stale files")
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    if args.check:
        stale = stale_files(out_dir)
        if stale:
            print("stale JSON schema files (run `python -m schemas.export`):", file=sys.stderr)
            for path in stale:
                print(f"  {path}", file=sys.stderr)
            return 1
        print(f"{len(TOPIC_MODELS)} JSON schema files up to date in {out_dir}")
        return 0
    for path in export_schemas(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
