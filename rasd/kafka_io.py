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
from aiokafka.errors import KafkaError

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
class Delivery:
    """What became of one message of :func:`send_all`: its key, and why it was not taken (None: it was)."""

    key: str
    error: BaseException | None = None


async def send_all(
    bootstrap: str, topic: str, raws: Iterable[bytes], *, security: KafkaSecuritySettings | None = None
) -> list[Delivery]:
    """Publish raw article bytes keyed by article id, each on its own: a message the producer or the broker
    refuses (too large, ...) does not stop the others.  One :class:`Delivery` per message, in order."""
    auth = kafka_auth(security)
    await check_access(bootstrap, auth)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **auth)
    keys: list[str] = []
    futures: list[asyncio.Future[object]] = []
    try:
        await producer.start()
        for raw in raws:
            keys.append(message_key(raw))
            try:
                futures.append(await producer.send(topic, value=raw, key=keys[-1].encode()))
            except KafkaError as exc:  # refused before it left, e.g. larger than the producer's max_request_size
                refused: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                refused.set_exception(exc)
                futures.append(refused)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await producer.stop()
    return [Delivery(key, out if isinstance(out, BaseException) else None)
            for key, out in zip(keys, outcomes, strict=True)]


async def ensure_topic(
    bootstrap: str, topic: str, partitions: int, *, security: KafkaSecuritySettings | None = None
) -> tuple[bool, int]:
    """Create ``topic`` with ``partitions`` partitions if it does not exist — never leave it to the broker's
    auto-creation, which gives its own default (often 1).  Returns (created, its partition count); raises
    :class:`rasd.kafka_local.BrokerError` when the broker will not create it."""
    from rasd.kafka_local import create_topics

    auth = kafka_auth(security)
    await check_access(bootstrap, auth)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **auth)
    await admin.start()
    try:  # every topic: a metadata request naming the topic would itself auto-create it
        existing = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics() if not t["error_code"]}
    finally:
        await admin.close()
    if topic in existing:
        return False, existing[topic]
    await create_topics(bootstrap, [topic], partitions=partitions, security=security)
    return True, partitions


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
    ``from_latest``: where a reader without a stored position starts (without a group: always) — the end of each
    partition instead of its beginning.  Starting positions are fixed on entry (and a group commits them at once),
    so what is sent after ``async with`` returns is read, and a new group resumes from its first start.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        *,
        group_id: str | None = None,
        security: KafkaSecuritySettings | None = None,
        from_latest: bool = False,
    ) -> None:
        self._group = group_id
        self._bootstrap = bootstrap
        self._auth = kafka_auth(security)
        self._acked: dict[TopicPartition, int] = {}
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            auto_offset_reset="latest" if from_latest else "earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=2000,
            **self._auth,
        )

    async def __aenter__(self) -> Follower:
        try:
            await check_access(self._bootstrap, self._auth)
            await self._consumer.start()
            for tp in self._consumer.assignment():  # resolve each start now, not at the first fetch
                self._acked.setdefault(tp, await self._consumer.position(tp))
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
