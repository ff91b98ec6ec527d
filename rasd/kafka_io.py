"""Plain aiokafka helpers for the CLI and tests: publish articles, follow topics, measure lag.

Services use Faust; these are the edges a person or a script uses around them.  Every client takes its SASL/TLS
options from ``RASD_KAFKA_*`` (:func:`services.common.security.kafka_auth`) unless given ``security``, and the ones
a command starts with first check that Kafka lets them in (one clear line if not: :func:`check_access`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codec import DecodeError, decode
from schemas.models import RawArticle
from services.common.security import KafkaSecuritySettings, check_access, kafka_auth
from services.normalizer.core import article_id


def message_key(raw: bytes) -> str:
    """The key an article is published under: its stable article id, or a hash of unparseable bytes."""
    try:
        key: str = article_id(decode(raw, RawArticle))
        return key
    except (DecodeError, ValueError):
        return "bad-" + hashlib.sha1(raw).hexdigest()[:16]


async def publish(
    bootstrap: str, topic: str, raws: Iterable[bytes], *, security: KafkaSecuritySettings | None = None
) -> list[str]:
    """Publish raw article bytes keyed by article id; returns the keys in order."""
    auth = kafka_auth(security)
    await check_access(bootstrap, auth)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **auth)
    await producer.start()
    keys: list[str] = []
    try:
        futures = []
        for raw in raws:
            key = message_key(raw)
            keys.append(key)
            futures.append(await producer.send(topic, value=raw, key=key.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return keys


@dataclass(frozen=True)
class Record:
    """One consumed message."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes


class Follower:
    """Reads topics from the beginning or, with a ``group_id``, as a consumer group resuming where it stopped.

    A group's offsets are committed for the records passed to :meth:`ack` (at each poll and on exit),
    so a subscriber that stops half-way through a batch resumes at the first record it did not take.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        *,
        group_id: str | None = None,
        security: KafkaSecuritySettings | None = None,
    ) -> None:
        self._group = group_id
        self._bootstrap = bootstrap
        self._auth = kafka_auth(security)
        self._acked: dict[TopicPartition, int] = {}
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=2000,
            **self._auth,
        )

    async def __aenter__(self) -> Follower:
        try:
            await check_access(self._bootstrap, self._auth)
            await self._consumer.start()
        except BaseException:
            await self._consumer.stop()  # closed, so that it does not warn "Unclosed AIOKafkaConsumer" when collected
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._commit()
        finally:
            await self._consumer.stop()

    def ack(self, record: Record) -> None:
        """Mark ``record`` as taken: the group resumes after it."""
        self._acked[TopicPartition(record.topic, record.partition)] = record.offset + 1

    async def _commit(self) -> None:
        if self._group is not None and self._acked:
            await self._consumer.commit(dict(self._acked))
            self._acked.clear()

    async def poll(self, timeout: float = 0.5) -> list[Record]:
        """Whatever arrived within ``timeout`` seconds (possibly nothing)."""
        await self._commit()
        batch = await self._consumer.getmany(timeout_ms=int(timeout * 1000))
        return [
            Record(m.topic, m.partition, m.offset, m.key.decode() if m.key else None, m.value or b"")
            for messages in batch.values()
            for m in messages
        ]


async def group_lag(
    bootstrap: str, group_id: str, topic: str, *, security: KafkaSecuritySettings | None = None
) -> int | None:
    """Messages of ``topic`` the consumer group has not committed yet; None while the topic is unknown.

    ``None`` is never "caught up": a topic whose metadata has not arrived has not been read either.
    """
    auth = kafka_auth(security)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **auth)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **auth)
    await admin.start()
    await consumer.start()
    try:
        # ``consumer.topics()`` returns fresh metadata without storing it, so read partitions from it.
        cluster = await consumer._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
        if not parts:
            return None
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group_id)
        lag = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(ends[tp] - done, 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()
