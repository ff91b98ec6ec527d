"""Reading article files for ``rasd publish`` and ``rasd process``.

Accepted: ``.jsonl`` (one article object per line), ``.json`` (an object or a
list of objects), ``.xml``/``.rss``/``.atom`` (an RSS 2.0 or Atom feed: one article
an item, see :mod:`rasd.feeds`), ``.txt`` (the seeds' format: the whole file is one
article) and directories of those, read recursively (hidden files and folders left out).
Every article comes out as the bytes that would be published to ``articles.raw``;
JSON lines are passed through untouched so that a malformed line reaches the
pipeline (and its dead-letter topic) as it is.

:func:`scan` reads everything first and says, per article, whether the normalizer
would take it and, per file, what was skipped or could not be read — so ``rasd
publish`` can check all its inputs before it sends anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from rasd.feeds import FEED_SUFFIXES, FeedError, parse_feed
from schemas.codec import decode, encode
from schemas.models import RawArticle
from services.normalizer.core import normalize, parse_text_article

SUFFIXES = (".jsonl", ".json", *FEED_SUFFIXES, ".txt")
_BOM = b"\xef\xbb\xbf"


def _kinds() -> str:
    return f"{', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}"


@dataclass(frozen=True)
class Skipped:
    """A file or folder not read, and why (another type, hidden, empty): not an error."""

    path: Path
    reason: str


def _walk(root: Path, skipped: list[Skipped]) -> list[Path]:
    """The article files under ``root``, recursively, sorted by their path inside it; the rest into ``skipped``."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        base = Path(folder)
        for name in sorted(d for d in dirs if d.startswith(".")):
            skipped.append(Skipped(base / name, "hidden folder, not read"))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = base / name
            if name.startswith("."):
                skipped.append(Skipped(path, "hidden file"))
            elif path.suffix not in SUFFIXES:
                skipped.append(Skipped(path, f"not a {_kinds()} file"))
            else:
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the article files inside directories named (recursively, sorted by path)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_walk(path, []))
        elif path.suffix in SUFFIXES:
            files.append(path)
        else:
            raise ValueError(f"{path}: unsupported file type (expected {', '.join(SUFFIXES)} or a directory)")
    return files


def read_articles(paths: Iterable[Path]) -> Iterator[bytes]:
    """The raw message bytes of every article in ``paths``, in order (empty ``.txt`` files hold none)."""
    for path in expand(paths):
        if path.suffix == ".txt":
            content = path.read_text(encoding="utf-8")
            if content.strip():  # an empty file holds no article
                yield encode(parse_text_article(content, source=path.stem))
        elif path.suffix in FEED_SUFFIXES:
            for feed_item in parse_feed(path.read_bytes()).items:
                yield encode(feed_item.article)
        elif path.suffix == ".jsonl":
            with path.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        yield line.rstrip(b"\r\n")
        else:
            data = orjson.loads(path.read_bytes())
            for item in data if isinstance(data, list) else [data]:
                yield orjson.dumps(item)


# ---------------------------------------------------------------- checked reading (rasd publish)


@dataclass(frozen=True)
class Item:
    """One article read from a file: where it is, the bytes to publish, and why the normalizer would reject it."""

    path: Path  # the file it is in
    where: str  # "path:LINE" in a .jsonl, "path: item N" in a .json list, else the path
    raw: bytes
    error: str | None = None  # None: the normalizer takes it


@dataclass
class Scan:
    """Everything read from the inputs, before anything is sent."""

    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "path[:line]: why" for inputs that could not be read at all
    files: int = 0  # files read

    @property
    def invalid(self) -> list[Item]:
        return [item for item in self.items if item.error is not None]


def rejection(raw: bytes, now: datetime | None = None) -> str | None:
    """Why the normalizer would dead-letter ``raw`` (the same decode and cleaning it runs), or None."""
    try:
        normalize(decode(raw, RawArticle), now=now or datetime.now(UTC))
    except Exception as exc:  # the normalizer's edge dead-letters any failure, so any failure is a rejection here
        return str(exc) or type(exc).__name__
    return None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _read_file(path: Path, scan: Scan, now: datetime) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        scan.failed.append(f"{path}: cannot read ({exc.strerror or exc})")
        return
    scan.files += 1
    if path.suffix == ".jsonl":
        for number, line in enumerate(data.removeprefix(_BOM).split(b"\n"), 1):
            line = line.rstrip(b"\r")
            if line.strip():
                scan.items.append(Item(path, f"{path}:{number}", line, rejection(line, now)))
        return
    if path.suffix == ".txt":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            scan.failed.append(f"{path}:{_line_of(data, exc.start)}: not UTF-8 text ({exc.reason})")
            return
        if not text.strip():
            scan.skipped.append(Skipped(path, "empty"))
            return
        raw = encode(parse_text_article(text, source=path.stem))
        scan.items.append(Item(path, str(path), raw, rejection(raw, now)))
        return
    if path.suffix in FEED_SUFFIXES:
        try:
            feed = parse_feed(data)
        except FeedError as exc:
            scan.failed.append(f"{path}: {exc}")
            return
        for number, feed_item in enumerate(feed.items, 1):
            raw = encode(feed_item.article)
            scan.items.append(Item(path, f"{path}: item {number}", raw, rejection(raw, now)))
        if feed.skipped:
            scan.skipped.append(Skipped(path, f"{feed.skipped} feed item(s) with neither title nor body"))
        return
    try:
        parsed = orjson.loads(data.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        scan.failed.append(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})")
        return
    if isinstance(parsed, list):
        for number, element in enumerate(parsed, 1):
            raw = orjson.dumps(element)
            scan.items.append(Item(path, f"{path}: item {number}", raw, rejection(raw, now)))
    else:
        raw = orjson.dumps(parsed)
        scan.items.append(Item(path, str(path), raw, rejection(raw, now)))


def scan(paths: Iterable[Path], *, now: datetime | None = None) -> Scan:
    """Read and check every article in ``paths`` (files, and folders recursively) without sending anything.

    A path that does not exist, a file named explicitly with another extension, a file that cannot be read, a
    ``.txt`` that is not UTF-8 or a ``.json`` that does not parse lands in ``failed`` (with the line where known);
    an article the normalizer would reject is an :class:`Item` with its ``error``; a file or folder left out of a
    folder lands in ``skipped``.  A file named twice (or also inside a folder named) is read once.
    """
    result = Scan()
    when = now or datetime.now(UTC)
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files = _walk(path, result.skipped)
        elif not path.exists():
            result.failed.append(f"{path}: no such file or directory")
            continue
        elif path.suffix not in SUFFIXES:
            result.failed.append(f"{path}: unsupported file type (expected a {_kinds()} file, or a folder)")
            continue
        else:
            files = [path]
        for file in files:
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                _read_file(file, result, when)
    return result
