"""The deduplicator's upgrade from the sequence-topic layout, on the real broker.

Why: until 2026-12-08 the index table had a one-partition changelog (it was partitioned like the one-partition
``<app id>-sequence`` topic).  Now the table is partitioned like ``articles.normalized``, and Faust refuses a
write whose source and changelog partitions differ.  ``prepare`` grows the old changelog before the worker
starts, keeping every record on partition 0 where the ordered partition's worker recovers them; a
``articles.normalized`` with other partitions than ``RASD_PARTITIONS`` is one clear line, not a crash later.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from rasd.kafka_local import create_topics
from services.common.security import ConfigError
from services.common.settings import DeduplicatorSettings
from services.deduplicator.agent import changelog_topic, prepare

from .helpers import isolated_env


def settings_for(bootstrap: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> DeduplicatorSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return DeduplicatorSettings(bootstrap_servers=bootstrap)


async def test_prepare_grows_a_one_partition_changelog_and_keeps_its_records(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, topics = isolated_env(tmp_path / "data")
    settings = settings_for(kafka_bootstrap, env, monkeypatch)
    changelog = changelog_topic(settings)
    await create_topics(kafka_bootstrap, topics.all(), partitions=4)
    await create_topics(kafka_bootstrap, [changelog], partitions=1)  # as the sequence-topic layout made it
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(changelog, key=b'"old-article"', value=b'{"n": 0}', partition=0)
    finally:
        await producer.stop()

    await prepare(settings)
    await prepare(settings)  # at every start: nothing left to do the second time

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([changelog])
    finally:
        await admin.close()
    assert sorted(p["partition"] for p in described["partitions"]) == [0, 1, 2, 3]

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(changelog, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        records = await consumer.getmany(tp, timeout_ms=5000)
        assert [r.key for r in records[tp]] == [b'"old-article"'], "the old records stay where they were"
    finally:
        await consumer.stop()


async def test_prepare_refuses_a_normalized_topic_partitioned_otherwise(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, topics = isolated_env(tmp_path / "data")
    settings = settings_for(kafka_bootstrap, env, monkeypatch)
    await create_topics(kafka_bootstrap, [topics.normalized], partitions=2)
    with pytest.raises(ConfigError, match=r"has 2 partitions but RASD_PARTITIONS is 4"):
        await prepare(settings)
