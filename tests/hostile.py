"""The hostile corpus (``tests/data/hostile.jsonl``): messages a feed or a broken producer may send, as bytes.

Each line is one case: ``case`` (its name), ``topic`` (the :class:`schemas.topics.Topics` field it is published
to: ``raw``, or ``normalized`` for input aimed at the deduplicator), what must become of it (``expect``:
``processed``, or the dead-letter reason ``decode``, ``too_large``, ``process``), ``why``, and the message:
``value`` (its UTF-8 text; ``null`` is a tombstone), ``value_b64`` (bytes that are not UTF-8), ``json`` (a
value to serialise), and ``make``, a recipe for the messages too large to keep in a file:

* ``{"repeat": {"field": F, "unit": U, "times": N}}`` sets ``json[F]`` to ``U * N``;
* ``{"nest": {"open": O, "close": C, "depth": N, "inner": I, "before": B, "after": A}}`` is ``B + O*N + I + C*N + A``;
* ``{"key": {"unit": U, "times": N}}`` appends ``U * N`` to the case's key.

Used by ``tests/unit/test_hostile_corpus.py`` (every case through the stage edge, no broker) and
``tests/integration/test_hostile_input.py`` (the whole corpus on the real broker).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CORPUS = Path(__file__).resolve().parent / "data" / "hostile.jsonl"
REASONS = ("decode", "too_large", "process", "send")


@dataclass(frozen=True)
class Case:
    """One hostile message: where it goes, its bytes and what must become of it."""

    name: str
    topic: str
    key: bytes
    value: bytes | None
    expect: str  # "processed" or a dead-letter reason
    why: str


def _value(row: dict[str, Any]) -> bytes | None:
    make = row.get("make", {})
    if "nest" in make:
        n = make["nest"]
        depth = n["depth"]
        text = n.get("before", "") + n["open"] * depth + n.get("inner", "") + n["close"] * depth + n.get("after", "")
        return text.encode()
    if "json" in row:
        obj = row["json"]
        if "repeat" in make:
            r = make["repeat"]
            obj = {**obj, r["field"]: r["unit"] * r["times"]}
        return orjson.dumps(obj)
    if "value_b64" in row:
        return base64.b64decode(row["value_b64"])
    value = row["value"]
    return None if value is None else str(value).encode("utf-8", "surrogatepass")


def load(path: Path = CORPUS, *, tag: str = "") -> list[Case]:
    """The corpus as messages; ``tag`` makes the keys (and the ids of articles that have one) unique per run."""
    cases: list[Case] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = orjson.loads(line)
        assert row["expect"] in ("processed", *REASONS), row
        make = row.get("make", {})
        key = f"h-{tag}{row['case']}".encode()
        if "key" in make:  # a huge key, still unique in its first bytes (a dead letter keeps its first 1,024)
            key += (make["key"]["unit"] * make["key"]["times"]).encode()
        value = _value(row)
        if tag and value is not None and row["expect"] == "processed":  # an id to find its output by (written as
            assert value.startswith(b"{") and b'"id"' not in value  # text: orjson will not re-dump 500 levels)
            value = b'{"id": ' + orjson.dumps(f"h-{tag}{row['case']}") + b", " + value[1:]
        cases.append(Case(row["case"], row.get("topic", "raw"), key, value, row["expect"], row["why"]))
    return cases


def reason_of(error: str) -> str:
    """The dead-letter reason a letter's ``error`` text gives (see :func:`services.common.stage.process_message`)."""
    from services.common.stage import reason_of as edge_reason

    return edge_reason(error)
