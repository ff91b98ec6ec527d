"""``rasd publish`` on the real broker: checks first, then sends; creates the topic with RASD_PARTITIONS; sums up.

Why: a newsroom's first publish is a folder of exports.  It must all go (sub-folders too) or, with
``--strict``, none of it; a bad line must reach the dead-letter topic the way it always has (through the
normalizer); a topic the broker auto-creates has 1 partition and caps the pipeline at one consumer; and a
message the broker refuses must be counted and named, not lost in a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from rasd.kafka_local import create_topics

from .helpers import collect, count, isolated_env

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
ARTICLE = {"id": "pub-1", "title": "قصف على خان يونس", "body": "قصفت مدفعية الاحتلال شرق خان يونس صباح اليوم."}


def rasd_publish(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rasd", "publish", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


async def partitions(bootstrap: str, topic: str) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()
    return found.get(topic)


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """Seeds at the top, a feed with a malformed line two folders down, a note and a hidden folder."""
    folder = tmp_path / "exports"
    (folder / "wire" / "day1").mkdir(parents=True)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "old.jsonl").write_bytes(orjson.dumps({"id": "hidden", "body": "x"}) + b"\n")
    for seed in SEEDS:
        (folder / seed.name).write_bytes(seed.read_bytes())
    (folder / "wire" / "day1" / "feed.jsonl").write_bytes(orjson.dumps(ARTICLE) + b"\n{broken\n")
    (folder / "wire" / "notes.md").write_text("not an article\n", encoding="utf-8")
    return folder


async def test_a_folder_goes_out_whole_with_a_summary(kafka_bootstrap: str, tmp_path: Path, exports: Path) -> None:
    env, topics = isolated_env(tmp_path / "data")
    env |= {"RASD_BOOTSTRAP_SERVERS": kafka_bootstrap, "RASD_PARTITIONS": "3"}
    proc = rasd_publish(env, str(exports))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"published 4 article(s) to {topics.raw} from 3 file(s) (1 invalid: the normalizer dead-letters them to "
        f"{topics.dlq}); skipped 2; failed 0"]
    err = proc.stderr
    assert f"rasd publish: created topic {topics.raw} with 3 partition(s) (RASD_PARTITIONS)" in err
    assert f"rasd publish: skipped {exports}/wire/notes.md: not a .jsonl, .json, .xml, .rss, .atom or .txt file" in err
    assert f"rasd publish: skipped {exports}/.cache: hidden folder, not read" in err
    assert f"{exports}/wire/day1/feed.jsonl:2: invalid article, sent for the dead-letter topic: not valid JSON" in err
    assert await partitions(kafka_bootstrap, topics.raw) == 3  # not the broker's auto-created 1
    seen = await collect(kafka_bootstrap, [topics.raw], lambda s: count(s, topics.raw) >= 4, timeout=30)
    values = [value for _, value in seen[topics.raw]]
    assert b"{broken" in values and orjson.dumps(ARTICLE) in values  # the bad line as it was: the DLQ keeps it
    assert ("pub-1", orjson.dumps(ARTICLE)) in seen[topics.raw]


async def test_strict_sends_nothing_and_creates_nothing(kafka_bootstrap: str, tmp_path: Path,
                                                        exports: Path) -> None:
    env, topics = isolated_env(tmp_path / "data")
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    proc = rasd_publish(env, "--strict", str(exports))
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.splitlines()[-1] == "rasd publish: nothing sent: 1 invalid article(s) in 1 file(s) (--strict)"
    assert await partitions(kafka_bootstrap, topics.raw) is None


async def test_an_existing_topic_is_kept_and_a_refused_message_is_counted(kafka_bootstrap: str,
                                                                          tmp_path: Path) -> None:
    """A topic made earlier with 1 partition draws a note (Rasd never changes a topic); an article over the
    producer's 1 MiB request limit is refused on its own — the others go, the summary counts it, exit 1."""
    env, topics = isolated_env(tmp_path / "data")
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    await create_topics(kafka_bootstrap, [topics.raw], partitions=1)
    big = {"id": "too-big", "title": "طويل", "body": "خبر عن غارات في المدينة. " * 50_000}
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(orjson.dumps(ARTICLE) + b"\n" + orjson.dumps(big) + b"\n")
    proc = rasd_publish(env, str(feed))
    assert proc.returncode == 1, proc.stderr
    assert f"rasd publish: note: {topics.raw} has 1 partition(s), RASD_PARTITIONS is 4" in proc.stderr
    assert f"rasd publish: {feed}:2: not sent: MessageSizeTooLargeError" in proc.stderr
    assert proc.stdout.splitlines() == [f"published 1 article(s) to {topics.raw} from 1 file(s); skipped 0; failed 1"]
    consumer = AIOKafkaConsumer(topics.raw, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: list[bytes] = []
        deadline = time.monotonic() + 20
        while not got and time.monotonic() < deadline:
            got += [m.value or b"" for ms in (await consumer.getmany(timeout_ms=500)).values() for m in ms]
    finally:
        await consumer.stop()
    assert got == [orjson.dumps(ARTICLE)]
