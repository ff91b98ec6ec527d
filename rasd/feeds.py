"""RSS 2.0 and Atom feeds into ``articles.raw``: ``rasd publish`` reads feed files, ``rasd feed`` polls feed URLs.

Parsing is feedparser's (PyPI ``feedparser``, maintained since 2002: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0, broken
XML, every date format feeds use, encodings, relative links).  Each item becomes a :class:`RawArticle`:

* ``title`` — the item's title; ``url`` — its link; ``id`` — its ``guid`` (RSS) or ``id`` (Atom);
* ``body`` — ``content:encoded`` (RSS) or ``<content>`` (Atom), else the ``description``/``summary``, else the
  title (a one-line flash); ``body_format`` — ``"html"`` when the feed says the body is HTML (the normalizer turns
  it into text, see :mod:`services.normalizer.html`), else ``"text"``;
* ``published_at`` — the item's published (else updated) date, UTC ISO 8601;
* ``source`` — the feed's title; ``language`` — the feed's language (its primary subtag: ``ar-SA`` → ``ar``).

Items are published oldest first.  :func:`poll` fetches each URL with a conditional GET (``If-None-Match`` with the
last ``ETag``, ``If-Modified-Since`` with the last ``Last-Modified``) and publishes only the items whose key (guid,
else link, else a hash of title and body) it has not sent before.  The keys and validators live in a small JSON
state file (default ``$RASD_DATA_DIR/feeds.json``), written atomically after every feed, so a re-poll — or a
restart — never republishes.  An item the broker refused is not marked seen, and the feed's validators are not
kept, so the next poll fetches the feed again and retries it.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import hashlib
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schemas.codec import encode
from schemas.models import RawArticle
from services.normalizer.html import html_to_text, looks_like_html

__all__ = ["FEED_SUFFIXES", "Feed", "FeedError", "FeedItem", "FeedState", "Fetched", "PollResult", "cmd_feed",
           "fetch", "parse_feed", "parse_interval", "poll"]

FEED_SUFFIXES = (".xml", ".rss", ".atom")
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_SEEN = 10_000  # keys remembered per feed (a feed lists tens of items; this is weeks of a busy one)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
USER_AGENT = "rasd-feed/0.1 (feedparser)"


class FeedError(ValueError):
    """A feed that cannot be fetched or is not RSS/Atom."""


@dataclass(frozen=True)
class FeedItem:
    key: str  # what a re-poll recognises the item by: guid/id, else link, else a hash of title and body
    article: RawArticle


@dataclass(frozen=True)
class Feed:
    title: str | None
    items: list[FeedItem]  # oldest first
    skipped: int = 0  # items with neither a body nor a title


# ---------------------------------------------------------------- parsing


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _plain(value: str | None) -> str | None:
    """A title as plain text (some feeds put markup or entities in titles)."""
    if value is not None and looks_like_html(value):
        value = " ".join(html_to_text(value).split()) or None
    return value


def _body(entry: Any) -> tuple[str | None, str]:
    """The item's body and whether it is HTML: full content first, then the summary."""
    contents = entry.get("content") or []
    for want_html in (True, False):
        for content in contents:
            value = _text(content.get("value"))
            if value is not None and (content.get("type", "") in _HTML_TYPES) == want_html:
                return value, "html" if want_html else "text"
    summary = _text(entry.get("summary"))
    if summary is not None:
        kind = (entry.get("summary_detail") or {}).get("type", "text/html")
        return summary, "html" if kind in _HTML_TYPES else "text"
    return None, "text"


def _date(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()


def _language(feed: Any) -> str | None:
    lang = _text(feed.get("language"))
    return re.split(r"[-_]", lang)[0].lower() if lang else None


def parse_feed(data: bytes) -> Feed:
    """The items of an RSS or Atom document (bytes, as fetched or read), oldest first."""
    import feedparser  # imported here: only feed commands pay for it

    parsed = feedparser.parse(data)
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):  # broken XML, or not a feed
        cause = parsed.get("bozo_exception")
        raise FeedError(f"not an RSS or Atom feed ({cause})" if cause else "not an RSS or Atom feed")
    title = _plain(_text(parsed.feed.get("title")))
    language = _language(parsed.feed)
    items: list[FeedItem] = []
    skipped = 0
    for entry in parsed.entries:
        item_title = _plain(_text(entry.get("title")))
        body, body_format = _body(entry)
        if body is None:
            if item_title is None:
                skipped += 1
                continue
            body, body_format = item_title, "text"
        guid = _text(entry.get("id"))
        link = _text(entry.get("link"))
        key = guid or link or "h-" + hashlib.sha1(f"{item_title}|{body}".encode()).hexdigest()[:16]
        article = RawArticle(id=guid, url=link, source=title, title=item_title, body=body,
                             published_at=_date(entry), language=language, body_format=body_format)
        items.append(FeedItem(key, article))
    # Feeds list newest first: publish oldest first, so the pipeline sees the story in the order it happened.
    dated = [item.article.published_at for item in items]
    if all(dated) and dated != sorted(dated):  # type: ignore[type-var]
        items.sort(key=lambda item: item.article.published_at or "")
    elif not all(dated):
        items.reverse()
    return Feed(title, items, skipped)


# ---------------------------------------------------------------- fetching and state


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304: not modified since the validators sent
    body: bytes | None
    etag: str | None
    modified: str | None


def fetch(url: str, etag: str | None = None, modified: str | None = None, *, timeout: float = 30.0) -> Fetched:
    """GET ``url``, conditional on the validators of the last fetch.  Raises :class:`FeedError` on failure."""
    headers = {"User-Agent": USER_AGENT,
               "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_FEED_BYTES + 1)
            if len(body) > MAX_FEED_BYTES:
                raise FeedError(f"larger than {MAX_FEED_BYTES // 2**20} MiB")
            return Fetched(response.status, body, response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(304, None, exc.headers.get("ETag") or etag, exc.headers.get("Last-Modified") or modified)
        raise FeedError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FeedError(f"cannot fetch ({exc.reason})") from None
    except (TimeoutError, OSError, ValueError) as exc:
        raise FeedError(f"cannot fetch ({exc})") from None


@dataclass
class FeedRecord:
    etag: str | None = None
    modified: str | None = None
    seen: list[str] = field(default_factory=list)  # oldest first, at most MAX_SEEN


@dataclass
class FeedState:
    """The keys sent and the validators of each feed URL, in a JSON file."""

    path: Path
    feeds: dict[str, FeedRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FeedState:
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(path)
        except (OSError, orjson.JSONDecodeError) as exc:
            raise FeedError(f"{path}: cannot read the feed state ({exc})") from None
        feeds = {url: FeedRecord(rec.get("etag"), rec.get("modified"), list(rec.get("seen", [])))
                 for url, rec in (data.get("feeds") or {}).items()}
        return cls(path, feeds)

    def record(self, url: str) -> FeedRecord:
        return self.feeds.setdefault(url, FeedRecord())

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"feeds": {url: {"etag": r.etag, "modified": r.modified, "seen": r.seen[-MAX_SEEN:]}
                          for url, r in self.feeds.items()}}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)


# ---------------------------------------------------------------- polling

# Sends raw article bytes; returns, in order, None for each message taken and the error for each refused.
Sender = Callable[[list[bytes]], list[BaseException | None]]
Fetcher = Callable[[str, str | None, str | None], Fetched]


@dataclass(frozen=True)
class PollResult:
    url: str
    sent: int = 0
    seen: int = 0  # items already sent by an earlier poll
    failed: int = 0  # items the broker refused (retried at the next poll)
    not_modified: bool = False
    error: str | None = None  # the feed could not be fetched or parsed

    def line(self) -> str:
        if self.error is not None:
            return f"{self.url}: {self.error}"
        if self.not_modified:
            return f"{self.url}: not modified"
        failed = f", {self.failed} not sent (retried next poll)" if self.failed else ""
        return f"{self.url}: {self.sent} new item(s) sent, {self.seen} already sent{failed}"


def poll(urls: Sequence[str], state: FeedState, send: Sender, *, fetcher: Fetcher = fetch) -> list[PollResult]:
    """Fetch each feed (conditional GET), send its items not sent before, remember them; save the state."""
    results: list[PollResult] = []
    for url in urls:
        record = state.record(url)
        try:
            got = fetcher(url, record.etag, record.modified)
            if got.status == 304 or got.body is None:
                results.append(PollResult(url, not_modified=True))
                continue
            feed = parse_feed(got.body)
        except FeedError as exc:
            results.append(PollResult(url, error=str(exc)))
            continue
        seen = set(record.seen)
        new: list[FeedItem] = []
        for item in feed.items:
            if item.key not in seen:
                seen.add(item.key)  # a key listed twice in one feed goes once
                new.append(item)
        errors = send([encode(item.article) for item in new]) if new else []
        failed = 0
        for item, error in zip(new, errors, strict=True):
            if error is None:
                record.seen.append(item.key)
            else:
                failed += 1
        if not failed:  # else fetch it whole again next time, to retry what was refused
            record.etag, record.modified = got.etag, got.modified
        del record.seen[:-MAX_SEEN]
        state.save()
        results.append(PollResult(url, sent=len(new) - failed, seen=len(feed.items) - len(new), failed=failed))
    return results


# ---------------------------------------------------------------- rasd feed

_INTERVAL_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_interval(text: str) -> float:
    """Seconds in ``"60s"``, ``"5m"``, ``"1h"``, ``"90"`` (seconds)."""
    match = _INTERVAL_RE.fullmatch(text.lower())
    if match is None or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"not an interval: {text!r} (e.g. 60s, 5m, 1h)")
    return float(match[1]) * _UNIT[match[2]]


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    """``rasd feed``'s arguments (on the CLI's subparsers)."""
    feed = sub.add_parser("feed", help="poll RSS/Atom feeds and publish their new items to the raw topic")
    feed.add_argument("urls", nargs="+", metavar="URL", help="feed URLs (RSS 2.0 or Atom)")
    feed.add_argument("--every", type=parse_interval, default=60.0, metavar="INTERVAL",
                      help="time between polls, e.g. 60s, 5m, 1h (default 60s)")
    feed.add_argument("--once", action="store_true", help="poll each feed once, then exit")
    feed.add_argument("--topic", help="topic (default: RASD_TOPIC_RAW or articles.raw)")
    feed.add_argument("--state", type=Path, default=None, metavar="FILE",
                      help="items sent and validators per feed (default: $RASD_DATA_DIR/feeds.json)")
    feed.set_defaults(func=func)


def cmd_feed(args: argparse.Namespace, bootstrap: str) -> int:
    """Poll the feeds (once, or every ``--every``) and publish new items; one line per feed per poll."""
    from rasd.errors import EXIT_FAILED, EXIT_OK, CliError, quiet_kafka_logs
    from rasd.kafka_io import ensure_topic, send_all
    from rasd.kafka_local import BrokerError
    from services.common.security import StartupError
    from services.common.settings import CommonSettings

    quiet_kafka_logs("feed")  # aiokafka's records as single lines, as for rasd publish
    settings = CommonSettings()
    topic = args.topic or settings.topics.raw
    try:
        state = FeedState.load(args.state or settings.data_dir / "feeds.json")
    except FeedError as exc:
        raise CliError(str(exc), "move the file away to start over (every item is then sent again)") from None

    def send(raws: list[bytes]) -> list[BaseException | None]:
        return [d.error for d in asyncio.run(send_all(bootstrap, topic, raws))]

    try:
        created, partitions = asyncio.run(ensure_topic(bootstrap, topic, settings.partitions))
    except BrokerError as exc:
        raise CliError(f"{topic} does not exist and Kafka will not create it ({exc})",
                       f"create it with {settings.partitions} partitions (RASD_PARTITIONS)") from None
    if created:
        print(f"rasd feed: created topic {topic} with {partitions} partition(s) (RASD_PARTITIONS)", file=sys.stderr)
    try:
        while True:
            started = time.monotonic()
            try:
                results = poll(args.urls, state, send)
            except StartupError as exc:  # Kafka went away between polls: say so, try again at the next one
                if args.once:
                    raise
                print(f"rasd feed: {exc} (next poll in {args.every:g} s)", file=sys.stderr)
                results = []
            for result in results:
                out = sys.stderr if result.error or result.failed else sys.stdout
                print(f"rasd feed: {result.line()}", file=out, flush=True)
            if args.once:
                return EXIT_FAILED if any(r.error or r.failed for r in results) else EXIT_OK
            time.sleep(max(0.0, args.every - (time.monotonic() - started)))
    except KeyboardInterrupt:  # the state is saved after every feed: nothing sent is sent again
        return EXIT_OK
