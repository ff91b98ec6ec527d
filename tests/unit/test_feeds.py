"""RSS/Atom feeds in: parsing items into raw articles, `rasd publish` of feed files, and polling feed URLs with
conditional GET from a local HTTP server (a fake sender stands for Kafka; the broker side is
tests/integration/test_feed_cli.py)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from rasd.feeds import FeedError, FeedState, PollResult, fetch, parse_feed, parse_interval, poll
from rasd.inputs import read_articles, scan
from schemas.codec import decode
from schemas.models import RawArticle
from services.normalizer.core import normalize

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
RSS = (FEEDS / "rss_ar.xml").read_bytes()
ATOM = (FEEDS / "atom_en.xml").read_bytes()

NEW_RSS_ITEM = b"""    <item>
      <title>\xd8\xae\xd8\xa8\xd8\xb1 \xd8\xac\xd8\xaf\xd9\x8a\xd8\xaf</title>
      <link>https://news.example.org/2024/03/15/new</link>
      <guid isPermaLink="false">news-example-88240</guid>
      <pubDate>Fri, 15 Mar 2024 11:00:00 +0300</pubDate>
      <content:encoded><![CDATA[<p>A new item with <b>markup</b> &amp; words.</p>]]></content:encoded>
    </item>
"""


# ---------------------------------------------------------------- parsing


def test_rss_items_become_raw_articles() -> None:
    feed = parse_feed(RSS)
    assert feed.title == "وكالة الأنباء التجريبية"
    assert [item.key for item in feed.items] == [  # oldest first
        "https://news.example.org/2024/03/15/fuel-prices", "news-example-88231"]
    strikes = feed.items[1].article
    assert strikes.id == "news-example-88231"
    assert strikes.url == "https://news.example.org/2024/03/15/south-lebanon-strikes?utm_source=rss"
    assert strikes.title == "غارات على بلدات في جنوب لبنان"
    assert strikes.source == "وكالة الأنباء التجريبية"
    assert strikes.language == "ar"
    assert strikes.published_at == "2024-03-15T07:20:00+00:00"
    assert strikes.body_format == "html"
    assert "<strong>غارات</strong>" in strikes.body  # content:encoded preferred over description
    fuel = feed.items[0].article
    assert fuel.title == "ارتفاع أسعار الوقود & النقل"


def test_atom_entries_become_raw_articles() -> None:
    feed = parse_feed(ATOM)
    assert feed.title == "Example Wire — World"
    keys = [item.key for item in feed.items]
    assert keys == ["tag:wire.example.com,2024:article-5519", "tag:wire.example.com,2024:article-5521"]
    talks = feed.items[1].article
    assert talks.url == "https://wire.example.com/world/ceasefire-talks-resume-5521"
    assert talks.published_at == "2024-03-15T07:45:00+00:00"
    assert talks.language == "en"
    assert talks.body_format == "html" and talks.body.startswith("<p>CAIRO")  # content over summary
    floods = feed.items[0].article
    assert floods.published_at == "2024-03-15T06:10:00+00:00"  # updated when not published


def test_feed_bodies_come_out_of_the_normalizer_as_clean_text() -> None:
    for data in (RSS, ATOM):
        for item in parse_feed(data).items:
            article = normalize(item.article, now=NOW)
            assert article.body_format == "html"
            for leftover in ("<p", "</", "&nbsp;", "&quot;", "track(", "display:none", "غيتي", "Photo: Reuters"):
                assert leftover not in article.text, (leftover, article.text)
    talks = normalize(parse_feed(ATOM).items[1].article, now=NOW)
    assert talks.text == ("Ceasefire talks resume in Cairo\n"
                          "CAIRO — Negotiators returned to Cairo on Friday for a new round of talks, officials said.\n"
                          "The talks are expected to last several days, according to a statement.")
    assert talks.dateline == "CAIRO"
    strikes = normalize(parse_feed(RSS).items[1].article, now=NOW)
    assert strikes.text.split("\n")[1:] == [
        "شنت الطائرات الإسرائيلية غارات على بلدات في جنوب لبنان، بحسب الوكالة الوطنية للإعلام.",
        'وقال مصدر أمني إن الغارات استهدفت "مواقع" في المنطقة، وأضاف أن القصف استمر ساعات.',
    ]
    fuel = normalize(parse_feed(RSS).items[0].article, now=NOW)
    assert "بنسبة < 5 في المئة" in fuel.text  # a "<" in Arabic text survives the HTML path


def test_an_item_without_a_body_is_a_flash_and_without_anything_skipped() -> None:
    data = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
      <item><title>Breaking: a headline only</title><link>https://e.com/1</link></item>
      <item><description></description></item></channel></rss>"""
    feed = parse_feed(data)
    assert feed.skipped == 1
    assert [i.article.body for i in feed.items] == ["Breaking: a headline only"]
    assert feed.items[0].key == "https://e.com/1"  # no guid: the link


@pytest.mark.parametrize("data", [b"", b"not a feed at all", b'{"json": true}', b"<html><body>hi</body></html>"])
def test_not_a_feed(data: bytes) -> None:
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(data)


def test_publish_reads_feed_files(tmp_path: Path) -> None:
    (tmp_path / "wire.atom").write_bytes(ATOM)
    (tmp_path / "news.rss").write_bytes(RSS)
    (tmp_path / "broken.xml").write_text("<rss><channel", encoding="utf-8")
    found = scan([tmp_path], now=NOW)
    assert [item.where for item in found.items] == [
        f"{tmp_path}/news.rss: item 1", f"{tmp_path}/news.rss: item 2",
        f"{tmp_path}/wire.atom: item 1", f"{tmp_path}/wire.atom: item 2"]
    assert not found.invalid
    assert len(found.failed) == 1 and found.failed[0].startswith(f"{tmp_path}/broken.xml: not an RSS or Atom feed (")
    assert decode(found.items[3].raw, RawArticle).body_format == "html"


def test_rasd_run_and_process_read_feed_files(tmp_path: Path) -> None:
    (tmp_path / "world.atom").write_bytes(ATOM)
    raws = list(read_articles([tmp_path]))
    assert [decode(raw, RawArticle).id for raw in raws] == [
        "tag:wire.example.com,2024:article-5519", "tag:wire.example.com,2024:article-5521"]


# ---------------------------------------------------------------- polling a local server


class FeedServer:
    """Serves feeds with an ETag (RSS) or a Last-Modified (Atom) and answers conditional GETs with 304."""

    def __init__(self) -> None:
        self.feeds: dict[str, tuple[bytes, str]] = {}  # path -> (body, content type)
        self.versions: dict[str, int] = {}
        self.requests: list[tuple[str, int, dict[str, str]]] = []  # path, status, request headers
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, kind = server.feeds.get(self.path, (b"", ""))
                if not body:
                    self.send_error(404)
                    server.requests.append((self.path, 404, dict(self.headers)))
                    return
                version = server.versions[self.path]
                etag = f'"v{version}"'
                modified = formatdate(1710489600 + version * 60, usegmt=True)
                if self.path.endswith(".rss"):
                    fresh = self.headers.get("If-None-Match") == etag
                else:
                    fresh = self.headers.get("If-Modified-Since") == modified
                status = 304 if fresh else 200
                server.requests.append((self.path, status, dict(self.headers)))
                self.send_response(status)
                if self.path.endswith(".rss"):
                    self.send_header("ETag", etag)
                else:
                    self.send_header("Last-Modified", modified)
                if fresh:
                    self.end_headers()
                    return
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def put(self, path: str, body: bytes, kind: str) -> None:
        self.feeds[path] = (body, kind)
        self.versions[path] = self.versions.get(path, 0) + 1


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    srv.put("/news.rss", RSS, "application/rss+xml; charset=utf-8")
    srv.put("/world.atom", ATOM, "application/atom+xml")
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[RawArticle] = []
        self.refuse: set[str] = set()  # article ids the "broker" refuses

    def __call__(self, raws: list[bytes]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for raw in raws:
            article = decode(raw, RawArticle)
            if article.id in self.refuse:
                outcomes.append(RuntimeError("refused"))
            else:
                self.sent.append(article)
                outcomes.append(None)
        return outcomes


def test_first_poll_sends_every_item_a_second_sends_nothing_a_new_item_once(
        server: FeedServer, tmp_path: Path) -> None:
    urls = [f"{server.url}/news.rss", f"{server.url}/world.atom"]
    state_file = tmp_path / "data" / "feeds.json"
    sender = FakeSender()

    first = poll(urls, FeedState.load(state_file), sender)
    assert first == [PollResult(urls[0], sent=2), PollResult(urls[1], sent=2)]
    assert [a.id for a in sender.sent] == ["https://news.example.org/2024/03/15/fuel-prices", "news-example-88231",
                                           "tag:wire.example.com,2024:article-5519",
                                           "tag:wire.example.com,2024:article-5521"]
    saved = orjson.loads(state_file.read_bytes())["feeds"]
    assert saved[urls[0]]["etag"] == '"v1"' and saved[urls[1]]["modified"]

    # Second poll, from the state file (as a restarted `rasd feed` would): 304s, nothing sent.
    second = poll(urls, FeedState.load(state_file), sender)
    assert second == [PollResult(urls[0], not_modified=True), PollResult(urls[1], not_modified=True)]
    assert len(sender.sent) == 4
    conditional = server.requests[-2:]
    assert conditional[0][1] == 304 and conditional[0][2]["If-None-Match"] == '"v1"'
    assert conditional[1][1] == 304 and "If-Modified-Since" in conditional[1][2]

    # The RSS feed gets a new item (and a new ETag): only that one is sent, once.
    server.put("/news.rss", RSS.replace(b"    <item>", NEW_RSS_ITEM + b"    <item>", 1), "application/rss+xml")
    third = poll(urls, FeedState.load(state_file), sender)
    assert third == [PollResult(urls[0], sent=1, seen=2), PollResult(urls[1], not_modified=True)]
    assert sender.sent[-1].id == "news-example-88240"
    assert sender.sent[-1].body_format == "html"
    assert poll(urls, FeedState.load(state_file), sender)[0].not_modified
    assert len(sender.sent) == 5


def test_a_server_without_validators_gets_items_deduplicated_by_key(server: FeedServer, tmp_path: Path) -> None:
    url = f"{server.url}/news.rss"
    state = FeedState.load(tmp_path / "feeds.json")
    sender = FakeSender()

    def unconditional(url: str, etag: str | None, modified: str | None) -> object:
        return fetch(url)  # never sends validators: every poll is a 200 with the same items

    assert poll([url], state, sender, fetcher=unconditional)[0] == PollResult(url, sent=2)  # type: ignore[arg-type]
    assert poll([url], state, sender, fetcher=unconditional)[0] == PollResult(url, seen=2)  # type: ignore[arg-type]
    assert len(sender.sent) == 2


def test_a_refused_item_is_retried_at_the_next_poll(server: FeedServer, tmp_path: Path) -> None:
    url = f"{server.url}/news.rss"
    state_file = tmp_path / "feeds.json"
    sender = FakeSender()
    sender.refuse = {"news-example-88231"}
    assert poll([url], FeedState.load(state_file), sender)[0] == PollResult(url, sent=1, failed=1)
    assert FeedState.load(state_file).record(url).etag is None  # validators not kept: the next poll is a 200
    sender.refuse = set()
    assert poll([url], FeedState.load(state_file), sender)[0] == PollResult(url, sent=1, seen=1)
    assert [a.id for a in sender.sent] == ["https://news.example.org/2024/03/15/fuel-prices", "news-example-88231"]


def test_fetch_and_parse_failures_are_one_line_and_do_not_stop_other_feeds(server: FeedServer,
                                                                           tmp_path: Path) -> None:
    server.put("/page.html", b"<html><body>not a feed</body></html>", "text/html")
    urls = [f"{server.url}/missing.rss", f"{server.url}/page.html", "http://127.0.0.1:9/closed.rss",
            f"{server.url}/world.atom"]
    results = poll(urls, FeedState.load(tmp_path / "feeds.json"), FakeSender())
    assert results[0].error == "HTTP 404 Not Found"
    assert results[1].error is not None and results[1].error.startswith("not an RSS or Atom feed")
    assert results[2].error is not None and results[2].error.startswith("cannot fetch")
    assert results[3] == PollResult(urls[3], sent=2)
    assert results[0].line() == f"{urls[0]}: HTTP 404 Not Found"


def test_a_corrupt_state_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "feeds.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(FeedError, match="cannot read the feed state"):
        FeedState.load(path)


def test_intervals() -> None:
    assert parse_interval("60s") == 60 and parse_interval("5m") == 300 and parse_interval("1h") == 3600
    assert parse_interval("90") == 90 and parse_interval("500ms") == 0.5
    for bad in ("", "0s", "-1", "10 days"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_interval(bad)
