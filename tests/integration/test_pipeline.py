"""The four services as separate workers on the real broker: what arrives on every topic.

Why: the unit tests prove the cores; this proves that the agents, the codec at
the edges, the topics and the dead-letter path wire them together correctly.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

from rasd.inputs import read_articles
from rasd.kafka_io import publish
from rasd.kafka_local import create_topics
from schemas.codec import decode
from schemas.models import Alert, DeadLetter, DedupedArticle, EnrichedArticle, NormalizedArticle

from .helpers import collect, count, isolated_env, metric, start_workers

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
NEAR_COPY = ROOT / "tests" / "data" / "near_copy_of_002.txt"
MALFORMED = b'{"title": "no body here", "url": 42'


async def test_seeds_copy_and_malformed_message_flow_through_the_four_services(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env, topics = isolated_env(tmp_path / "data")
    await create_topics(kafka_bootstrap, topics.all(), partitions=4)
    workers = start_workers(kafka_bootstrap, env, tmp_path / "logs")
    try:
        seed_ids = await publish(kafka_bootstrap, topics.raw, read_articles(SEEDS))
        # A republished copy comes after its original: let both seeds through the deduplicator first.
        await collect(kafka_bootstrap, [topics.unique], lambda s: count(s, topics.unique) >= 2, timeout=180)
        copy_ids = await publish(kafka_bootstrap, topics.raw, read_articles([NEAR_COPY]))
        bad_ids = await publish(kafka_bootstrap, topics.raw, [MALFORMED])
        seen = await collect(
            kafka_bootstrap,
            topics.all(),
            lambda s: count(s, topics.duplicates) >= 1 and count(s, topics.dlq) >= 1
            and count(s, topics.alerts) >= 1 and count(s, topics.enriched) >= 2,
            timeout=120,
        )
        # The seeds are one story: the second seed's alert is suppressed (no message), so wait for
        # the alerter to have counted both articles before reading the metrics.
        deadline = time.monotonic() + 60
        while True:
            pages = {p.service: p.metrics_text() or "" for p in workers.procs}
            if metric(pages["alerter"], "rasd_processing_seconds_count") >= 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        workers.stop()

    seed_002 = seed_ids[1]
    normalized = [decode(v, NormalizedArticle) for _, v in seen[topics.normalized]]
    assert sorted(a.id for a in normalized) == sorted([*seed_ids, *copy_ids])

    unique = [decode(v, DedupedArticle) for _, v in seen[topics.unique]]
    assert sorted(a.id for a in unique) == sorted(seed_ids)
    assert all(a.dedup.status == "unique" for a in unique)
    # Two articles about one offensive: one story, named by whichever seed the deduplicator decided first.
    [story] = {a.story_id for a in unique}
    assert story in seed_ids

    [duplicate] = [decode(v, DedupedArticle) for _, v in seen[topics.duplicates]]
    assert duplicate.id == copy_ids[0]
    assert duplicate.dedup.duplicate_of == seed_002
    assert duplicate.dedup.kind == "near"
    assert duplicate.story_id == story

    enriched = {a.id: a for a in (decode(v, EnrichedArticle) for _, v in seen[topics.enriched])}
    assert set(enriched) == set(seed_ids)
    for article in enriched.values():
        names = {e.name for e in article.entities}
        assert {"Azerbaijan", "Armenia"} <= names, names
        assert all(article.text[e.start : e.end] == e.text for e in article.entities)

    alerts = [decode(v, Alert) for _, v in seen[topics.alerts]]
    [alert] = alerts  # one alert per story: the other seed's (same severity) is suppressed
    assert alert.article_id in seed_ids and alert.story_id == story
    assert all(a.severity in ("high", "medium") and a.matches for a in alerts)

    [(dlq_key, dlq_value)] = seen[topics.dlq]
    letter = decode(dlq_value, DeadLetter)
    assert letter.stage == "normalizer"
    assert base64.b64decode(letter.original_b64) == MALFORMED
    assert "JSON" in letter.error
    assert dlq_key == bad_ids[0]

    # Each service counted what it did, on its own Prometheus endpoint.
    assert metric(pages["normalizer"], "rasd_messages_consumed_total", topic="raw") == 4
    assert metric(pages["normalizer"], "rasd_dead_letters_total", reason="decode") == 1
    assert metric(pages["deduplicator"], "rasd_messages_produced_total", topic="duplicates") == 1
    assert metric(pages["entities"], "rasd_messages_consumed_total", topic="unique") == 2
    assert metric(pages["alerter"], "rasd_messages_produced_total", topic="alerts") == 1
    assert metric(pages["alerter"], "rasd_processing_seconds_count") == 2
    # Faust's own sensor is exported beside ours.
    assert metric(pages["normalizer"], "faust_messages_received_total") >= 4
