"""At-least-once for partitions the consumer group has never committed, across a worker's start and restart.

Why: after a deduplicator restart, the dedup scale test lost about one run in six a near-copy published
while the new worker was joining, always on the one ``articles.normalized`` partition with no committed
offset.  The cause is in Faust 0.15.3: when a table's recovery ends, Faust briefly has no active
partition, a fetch returning then is drained for *every* partition, and Faust drops the records of the
partitions it does not consider active, counting on "seek to the committed offsets" to read them again —
but aiokafka seeks only partitions that have a committed offset, so a never-committed partition kept its
position past the dropped records.  ``services/common/worker.py`` seeks those partitions to their
beginning instead.  The worker here runs with ``slow_recovery/sitecustomize.py``, which holds that
window open, so the loss does not depend on luck: without the guard, 5 runs of 5 lost the copies.

Under CPU load the restart also lost articles on partitions that *do* have a committed offset: Faust
resumes the partitions before it seeks them, and batches delivered during the (per-partition, awaited)
seek left its read offset past records read again afterwards, which it then dropped and could commit
past.  The worker now delivers nothing from a resumed partition before the seek and fetches nothing
during it.  ``RASD_TEST_SLOW_SEEK`` slows the seek to hold that window open: without the guard 4 runs
of 6 lost articles on a quiet machine (next to four busy loops, without the slow seek, 2 of 6 did);
with it, 0 of 9 (6 of them next to four busy loops).  tests/unit/test_worker_seek.py pins the order.

Articles are published straight to ``articles.normalized`` on chosen partitions (normalized by the
normalizer's core), so the test controls which partitions have a committed offset at each moment.  Those off
the ordered partition are what a normalizer from before the one-partition layout wrote: the deduplicator
forwards them to the ordered partition, so each must still be read, forwarded and decided exactly once.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from rasd.kafka_local import create_topics
from rasd.runner import Workers
from schemas.codec import decode, encode
from schemas.models import DedupedArticle, RawArticle
from services.normalizer.core import normalize

from .helpers import Seen, collect, free_port, isolated_env
from .test_dedup_scale import NEAR_COPY, SEED_002, owns_ordered_partition

HERE = Path(__file__).resolve().parent
FILLERS = [
    orjson.loads(line)["text"]
    for line in (HERE.parents[1] / "tests" / "data" / "alerter_robustness.jsonl").read_text("utf-8").splitlines()
]


def normalized(article_id: str, body: str) -> bytes:
    """The bytes the normalizer would publish for this article."""
    return encode(normalize(RawArticle(id=article_id, source="test", body=body), now=datetime.now(UTC)))


class Publisher:
    """Publishes normalized articles to chosen partitions and remembers what it sent."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.sent: dict[str, int] = {}  # article id -> partition

    async def send(self, article_id: str, body: str, partition: int) -> None:
        await self.producer.send_and_wait(
            self.topic, normalized(article_id, body), key=article_id.encode(), partition=partition
        )
        self.sent[article_id] = partition


def decided(seen: Seen, *topics: str) -> dict[str, list[DedupedArticle]]:
    """Every verdict given, per article id (a replay after a restart may repeat one)."""
    given: dict[str, list[DedupedArticle]] = {}
    for topic in topics:
        for _, value in seen.get(topic, []):
            article = decode(value, DedupedArticle)
            given.setdefault(article.id, []).append(article)
    return given


async def test_articles_on_never_committed_partitions_are_decided_across_start_and_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env, topics = isolated_env(tmp_path / "data")
    await create_topics(kafka_bootstrap, topics.all(), partitions=4)
    pythonpath = os.pathsep.join(p for p in (str(HERE / "slow_recovery"), os.environ.get("PYTHONPATH", "")) if p)
    env |= {"PYTHONPATH": pythonpath, "RASD_TEST_SLOW_RECOVERY": "1.0", "RASD_TEST_SLOW_SEEK": "0.5"}
    workers = Workers(kafka_bootstrap, log_dir=tmp_path / "logs", services=(), extra_env=env)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    pub = Publisher(producer, topics.normalized)
    outputs = [topics.unique, topics.duplicates]

    last: list[Seen] = [{}]

    def all_decided(seen: Seen) -> bool:
        last[0] = seen
        return set(pub.sent) <= set(decided(seen, *outputs))

    async def wait_all_decided(timeout: float) -> Seen:
        try:
            return await collect(kafka_bootstrap, outputs, all_decided, timeout=timeout)
        except AssertionError:
            missing = sorted(set(pub.sent) - set(decided(last[0], *outputs)))
            raise AssertionError(f"never decided: {[(m, 'partition', pub.sent[m]) for m in missing]}") from None

    try:
        # A fresh group: one article before any worker exists, more while the first worker starts and joins.
        await pub.send("original", SEED_002, 0)
        await pub.send("before-1", FILLERS[0], 1)
        first = workers.add("deduplicator", metrics_port=free_port(), tag="-1")
        for i, partition in enumerate([2, 1] * 4):
            await pub.send(f"joining-{i}", FILLERS[1 + i], partition)
            await asyncio.sleep(0.4)
        await wait_all_decided(timeout=90)

        # Restart: partition 3 has never held a record, so it has no committed offset when the new worker
        # joins.  Copies of the original land on it as the worker starts, and other articles keep arriving
        # (on every partition) until the worker owns the ordered partition, i.e. all through its join and
        # table recovery.
        first.stop()
        workers.procs.remove(first)
        second = workers.add("deduplicator", metrics_port=free_port(), tag="-2")
        await pub.send("near-copy", NEAR_COPY, 3)
        await pub.send("exact-copy", SEED_002, 3)
        joined = asyncio.create_task(owns_ordered_partition(second, timeout=60))
        i = 0
        while not joined.done():
            await pub.send(f"restart-{i}", FILLERS[(10 + i) % len(FILLERS)], (3, 1, 2)[i % 3])
            i += 1
            await asyncio.sleep(0.15)
        await joined
        seen = await wait_all_decided(timeout=60)
    finally:
        workers.stop()
        await producer.stop()

    given = decided(seen, *outputs)
    assert set(given) == set(pub.sent), f"never decided: {sorted(set(pub.sent) - set(given))}"
    for article_id, articles in given.items():
        assert len({(a.dedup.status, a.dedup.duplicate_of) for a in articles}) == 1, (article_id, articles)
    assert given["near-copy"][0].dedup.duplicate_of == "original" and given["near-copy"][0].dedup.kind == "near"
    assert given["exact-copy"][0].dedup.duplicate_of == "original" and given["exact-copy"][0].dedup.kind == "exact"
    assert given["original"][0].dedup.status == "unique"
