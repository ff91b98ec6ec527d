"""Hostile and oversized input on the real broker: every message accounted for, valid articles not held up.

Why (issue 16): 18 of 1,914 hostile messages were lost — valid but huge articles (a 300,000-character title,
100,000 tokens) normalised to messages the producer refused inside the agent, outside the dead-letter edge:
the agent crashed and restarted, the message was skipped without a trace, and the 50 valid articles behind
them waited 89 s.  Before the fix, 6 such articles here held 20 valid ones up for 26 s and none reached the
DLQ.  Now each is a dead letter with its reason (``too_large`` before any work, ``send`` when the broker
refuses an output) and an article published behind them is decided within 10 s.

The normalizer and the deduplicator run as workers (the hostile corpus aims at their edges; entities and the
alerter share the same edge and sender, tests/unit/test_send_failures.py).  ``articles.normalized`` is created
with ``max.message.bytes`` = 250,000, under the services' 1,000,000, so the broker itself refuses one output.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rasd.runner import Workers
from schemas.codec import article_id_of, decode
from schemas.models import DeadLetter
from schemas.topics import Topics
from services.common.stage import reason_of
from tests.hostile import Case, load

from .helpers import free_port, isolated_env, metric

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("normalizer", "deduplicator")
MAX_DELAY_S = 10.0  # the longest a valid article may take from publish to its dedup decision
NORMALIZED_TOPIC_LIMIT = 250_000  # the broker's max.message.bytes of articles.normalized in this test
VALID = [json.loads(line) for line in (ROOT / "tests" / "data" / "story_cases.jsonl").open(encoding="utf-8")]


@dataclass
class Pipeline:
    bootstrap: str
    topics: Topics
    workers: Workers
    arrivals: dict[str, list[tuple[str, bytes, float]]] = field(default_factory=dict)  # key -> (topic, value, time)


async def _create_topics(bootstrap: str, topics: Topics) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        limited = {topics.normalized: {"max.message.bytes": str(NORMALIZED_TOPIC_LIMIT)}}
        await admin.create_topics([NewTopic(name, 4, 1, topic_configs=limited.get(name, {})) for name in topics.all()])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    base = tmp_path_factory.mktemp("hostile")
    env, topics = isolated_env(base / "data")
    asyncio.run(_create_topics(kafka_bootstrap, topics))
    workers = Workers(kafka_bootstrap, log_dir=base / "logs", services=SERVICES,
                      ports={s: free_port() for s in SERVICES}, extra_env=env)
    workers.start()
    try:
        workers.wait_ready()
        yield Pipeline(kafka_bootstrap, topics, workers)
    finally:
        workers.stop()


def valid_articles(tag: str) -> list[tuple[str, bytes]]:
    """Real articles under new ids (key, value): each must be decided within MAX_DELAY_S of its publication."""
    return [(f"v-{tag}-{i}", orjson.dumps({**row, "id": f"v-{tag}-{i}"})) for i, row in enumerate(VALID)]


async def run(pipeline: Pipeline, messages: list[tuple[str, bytes, bytes | None]], wanted: set[str],
              timeout: float = 60.0) -> dict[str, float]:
    """Publish ``messages`` (topic field, key, value) in order while reading every topic; return when each key
    in ``wanted`` has arrived on a decision topic or the DLQ (``pipeline.arrivals``); publish times by key."""
    topics = pipeline.topics
    watched = {topics.unique: "unique", topics.duplicates: "duplicates", topics.dlq: "dlq"}
    consumer = AIOKafkaConsumer(*watched, bootstrap_servers=pipeline.bootstrap, auto_offset_reset="latest",
                                enable_auto_commit=False, group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.1)
    for tp in consumer.assignment():  # from "now": the arrivals of earlier tests are not ours
        await consumer.position(tp)
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all", linger_ms=5,
                                max_request_size=2 * 1024 * 1024)
    await producer.start()
    published: dict[str, float] = {}
    try:
        futures = []
        for topic, key, value in messages:
            published[key.decode()[:1024]] = time.monotonic()
            futures.append(await producer.send(getattr(topics, topic), key=key, value=value))
        await asyncio.gather(*futures)
        deadline = time.monotonic() + timeout
        while not wanted <= set(pipeline.arrivals):
            missing = wanted - set(pipeline.arrivals)
            assert time.monotonic() < deadline, f"{len(missing)} never arrived: {sorted(missing)[:10]}"
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    key = (r.key or b"").decode("utf-8", "replace")
                    if r.topic == topics.unique:  # keyed by story: the article is the id in the value
                        key = article_id_of(r.value) or key
                    pipeline.arrivals.setdefault(key, []).append((watched[r.topic], r.value or b"", now))
    finally:
        await producer.stop()
        await consumer.stop()
    return published


def delays(pipeline: Pipeline, published: dict[str, float], keys: list[str]) -> dict[str, float]:
    return {k: min(t for _, _, t in pipeline.arrivals[k]) - published[k] for k in keys}


def letter(pipeline: Pipeline, key: str) -> DeadLetter:
    [(topic, value, _)] = pipeline.arrivals[key]
    assert topic == "dlq", (key, topic)
    return decode(value, DeadLetter)


def dead_letter_counts(pipeline: Pipeline) -> dict[tuple[str, str], float]:
    pages = {p.service: p.metrics_text() or "" for p in pipeline.workers.procs}
    return {(service, reason): metric(page, "rasd_dead_letters_total", reason=reason)
            for service, page in pages.items() for reason in ("decode", "too_large", "process", "send")}


async def test_0_warm_up(pipeline: Pipeline) -> None:
    """The workers have joined their groups and decide articles (the delays below are not start-up)."""
    [(key, value)] = valid_articles("warm")[:1]
    await run(pipeline, [("raw", key.encode(), value)], {key}, timeout=120)


async def test_huge_articles_are_dead_letters_and_the_articles_behind_them_are_not_held_up(
    pipeline: Pipeline,
) -> None:
    tag = uuid.uuid4().hex[:6]
    huge = {
        f"huge-{tag}-title-{i}": orjson.dumps({"title": "x" * 300_000, "body": "نص قصير للمقال."}) for i in range(3)
    } | {
        f"huge-{tag}-arabic-title-{i}": orjson.dumps({"title": "ك" * 300_000, "body": "نص قصير."}) for i in range(2)
    } | {
        f"huge-{tag}-tokens-{i}": orjson.dumps({"title": "t", "body": " ".join(f"w{j}" for j in range(100_000))})
        for i in range(3)
    }
    valid = valid_articles(tag)
    messages = [("raw", k.encode(), v) for k, v in huge.items()] + [("raw", k.encode(), v) for k, v in valid]
    published = await run(pipeline, messages, {*huge, *(k for k, _ in valid)})

    for key, value in huge.items():
        dead = letter(pipeline, key)
        assert dead.stage == "normalizer" and reason_of(dead.error) == "too_large", dead.error
        assert value.startswith(base64.b64decode(dead.original_b64))
    late = {k: round(d, 1) for k, d in delays(pipeline, published, [k for k, _ in valid]).items() if d > MAX_DELAY_S}
    assert not late, f"valid articles held up behind huge ones: {late}"


async def test_every_hostile_message_is_processed_or_dead_lettered_with_its_reason(pipeline: Pipeline) -> None:
    """The corpus three times over, a valid article after every few hostile ones: 0 lost, each dead letter with
    the reason its case expects, counted under that reason, and no valid article decided later than 10 s."""
    before = dead_letter_counts(pipeline)
    cases: dict[str, Case] = {}
    messages: list[tuple[str, bytes, bytes | None]] = []
    valid: list[str] = []
    for round_ in range(3):
        tag = f"{uuid.uuid4().hex[:6]}-{round_}-"
        batch = load(tag=tag)
        random.Random(round_).shuffle(batch)
        articles = iter(valid_articles(tag.rstrip("-")))
        for i, case in enumerate(batch):
            cases[case.key.decode()[:1024]] = case
            messages.append((case.topic, case.key, case.value))
            if i % 3 == 2 and (article := next(articles, None)) is not None:
                valid.append(article[0])
                messages.append(("raw", article[0].encode(), article[1]))
    assert 150 <= len(messages) <= 300
    published = await run(pipeline, messages, {*cases, *valid})

    expected_letters: dict[tuple[str, str], int] = {}
    for key, case in cases.items():
        if case.expect == "processed":
            [(topic, _, _)] = pipeline.arrivals[key]
            assert topic in ("unique", "duplicates"), (case.name, topic)
            continue
        dead = letter(pipeline, key)
        assert reason_of(dead.error) == case.expect, (case.name, dead.error)
        assert dead.stage == ("normalizer" if case.topic == "raw" else "deduplicator")
        assert (case.value or b"").startswith(base64.b64decode(dead.original_b64)), case.name
        counted = (dead.stage, case.expect)
        expected_letters[counted] = expected_letters.get(counted, 0) + 1
    late = {k: round(d, 1) for k, d in delays(pipeline, published, valid).items() if d > MAX_DELAY_S}
    assert not late, f"valid articles held up by hostile ones: {late}"

    deadline = time.monotonic() + 15  # the metrics endpoints count what the topics show
    while True:
        after = dead_letter_counts(pipeline)
        counted = {k: int(after[k] - before.get(k, 0.0)) for k in after if after[k] - before.get(k, 0.0)}
        if counted == expected_letters or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert counted == expected_letters


async def test_an_output_the_broker_refuses_is_a_send_dead_letter(pipeline: Pipeline) -> None:
    """Under the services' limits but over the normalized topic's own max.message.bytes: the broker refuses the
    output (asynchronously, after the agent moved on); the article becomes a dead letter with reason ``send``
    and its original bytes, and the articles sent in the same batch are retried alone and get through."""
    tag = uuid.uuid4().hex[:6]
    words = [w for row in VALID for w in str(row["body"]).split() if len(w) > 2 and "\u0621" <= w[0] <= "\u064a"]
    rng = random.Random(7)
    paragraphs = "\n\n".join(" ".join(rng.choice(words) for _ in range(40)) for _ in range(380))
    big = orjson.dumps({"id": f"big-{tag}", "title": "تقرير مطول", "body": paragraphs})
    assert len(paragraphs) < 100_000 and len(big) < 655_360  # within the article limits
    valid = valid_articles(tag)
    messages = [("raw", k.encode(), v) for k, v in valid[:5]] + [("raw", f"big-{tag}".encode(), big)]
    messages += [("raw", k.encode(), v) for k, v in valid[5:]]
    published = await run(pipeline, messages, {f"big-{tag}", *(k for k, _ in valid)})

    dead = letter(pipeline, f"big-{tag}")
    assert reason_of(dead.error) == "send" and "MessageSizeTooLarge" in dead.error, dead.error
    assert base64.b64decode(dead.original_b64) == big and dead.stage == "normalizer"
    for key, _ in valid:
        assert pipeline.arrivals[key][0][0] in ("unique", "duplicates")
    late = {k: round(d, 1) for k, d in delays(pipeline, published, [k for k, _ in valid]).items() if d > MAX_DELAY_S}
    assert not late, late
