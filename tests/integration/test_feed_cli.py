"""``rasd feed`` and ``rasd publish`` of feed files on the real broker.

Why: a newsroom without its own Kafka producer has RSS/Atom.  Polling must publish each item once — the first
poll everything, a re-poll (a 304, or the same items) nothing, a new item once — across restarts of the command,
and the bodies it publishes are HTML the normalizer turns into text.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.codec import decode
from schemas.models import RawArticle

from ..unit.test_feeds import ATOM, NEW_RSS_ITEM, RSS, FeedServer
from .helpers import collect, count, isolated_env

ROOT = Path(__file__).resolve().parents[2]


def rasd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rasd", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


async def test_feed_publishes_each_item_once_across_polls(kafka_bootstrap: str, tmp_path: Path) -> None:
    env, topics = isolated_env(tmp_path / "data")
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    server = FeedServer()
    server.put("/news.rss", RSS, "application/rss+xml; charset=utf-8")
    server.put("/world.atom", ATOM, "application/atom+xml")
    server.thread.start()
    try:
        rss, atom = f"{server.url}/news.rss", f"{server.url}/world.atom"
        first = rasd(env, "feed", "--once", rss, atom)
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines() == [f"rasd feed: {rss}: 2 new item(s) sent, 0 already sent",
                                             f"rasd feed: {atom}: 2 new item(s) sent, 0 already sent"]
        assert f"created topic {topics.raw} with 4 partition(s)" in first.stderr
        assert (tmp_path / "data" / "feeds.json").is_file()

        second = rasd(env, "feed", "--once", rss, atom)
        assert second.returncode == 0, second.stderr
        assert second.stdout.splitlines() == [f"rasd feed: {rss}: not modified", f"rasd feed: {atom}: not modified"]

        server.put("/news.rss", RSS.replace(b"    <item>", NEW_RSS_ITEM + b"    <item>", 1), "application/rss+xml")
        third = rasd(env, "feed", "--once", rss, atom)
        assert third.returncode == 0, third.stderr
        assert third.stdout.splitlines() == [f"rasd feed: {rss}: 1 new item(s) sent, 2 already sent",
                                             f"rasd feed: {atom}: not modified"]
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()

    seen = await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 5, timeout=30)
    with pytest.raises(AssertionError, match="deadline passed"):  # and no sixth: nothing was sent twice
        await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 6, timeout=5)
    keys = sorted(key or "" for key, _ in seen[topics.raw])
    assert keys == sorted(["https://news.example.org/2024/03/15/fuel-prices", "news-example-88231",
                           "news-example-88240", "tag:wire.example.com,2024:article-5519",
                           "tag:wire.example.com,2024:article-5521"])
    articles = [decode(value, RawArticle) for _, value in seen[topics.raw]]
    assert all(a.body_format == "html" for a in articles)
    assert {a.source for a in articles} == {"وكالة الأنباء التجريبية", "Example Wire — World"}


async def test_publish_sends_feed_files(kafka_bootstrap: str, tmp_path: Path) -> None:
    env, topics = isolated_env(tmp_path / "data")
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "news.rss").write_bytes(RSS)
    (tmp_path / "in" / "world.atom").write_bytes(ATOM)
    proc = rasd(env, "publish", str(tmp_path / "in"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"published 4 article(s) to {topics.raw} from 2 file(s); skipped 0; failed 0"]
    seen = await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 4, timeout=30)
    titles = {decode(value, RawArticle).title for _, value in seen[topics.raw]}
    assert "Ceasefire talks resume in Cairo" in titles and "غارات على بلدات في جنوب لبنان" in titles


async def test_feed_every_keeps_polling_and_sends_a_new_item_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    """`rasd feed --every 1s` running: the items at start, then a new one once, across many polls; Ctrl-C exits 0."""
    env, topics = isolated_env(tmp_path / "data")
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    server = FeedServer()
    server.put("/news.rss", RSS, "application/rss+xml; charset=utf-8")
    server.thread.start()
    proc = subprocess.Popen([sys.executable, "-m", "rasd", "feed", "--every", "1s", f"{server.url}/news.rss"],
                            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 2, timeout=60)
        server.put("/news.rss", RSS.replace(b"    <item>", NEW_RSS_ITEM + b"    <item>", 1), "application/rss+xml")
        seen = await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 3, timeout=30)
        assert "news-example-88240" in {key for key, _ in seen[topics.raw]}
        await asyncio.sleep(3)  # three more polls
        with pytest.raises(AssertionError, match="deadline passed"):
            await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 4, timeout=3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        server.httpd.shutdown()
        server.httpd.server_close()
    assert proc.returncode == 0, err
    polls = [line for line in out.splitlines() if line.startswith("rasd feed: ")]
    assert polls[0].endswith("2 new item(s) sent, 0 already sent")
    assert sum(line.endswith("1 new item(s) sent, 2 already sent") for line in polls) == 1
    assert sum(line.endswith("not modified") for line in polls) >= 3
