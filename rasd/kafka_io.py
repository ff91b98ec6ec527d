"""Plain aiokafka helpers for the CLI and tests: publish articles, follow topics, measure lag.

Services use Faust; these are the edges a person or a script uses around them.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codec import DecodeError, decode
from schemas.models import RawArticle
from services.normalizer.core import article_id


def message_key(raw: bytes) -> str:
    """The key an article is published under: its stable article id, or a hash of unparseable bytes."""
    try:
        key: str = article_id(decode(raw, RawArticle))
        return key
    except (DecodeError, ValueError):
        return "bad-" + hashlib.sha1(raw).hexdigest()[:16]


async def publish(bootstrap: str, topic: str, raws: Iterable[bytes]) -> list[str]:
    """Publish raw article bytes keyed by article id; returns the keys in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
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


async def follow(
    bootstrap: str,
    topics: list[str],
    *,
    group_id: str | None = None,
    from_beginning: bool = True,
) -> AsyncIterator[Record]:
    """Yield messages from ``topics`` until the caller stops iterating (offsets committed per group)."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=group_id is not None,
        metadata_max_age_ms=2000,
    )
    await consumer.start()
    try:
        async for msg in consumer:
            yield Record(
                msg.topic, msg.partition, msg.offset, msg.key.decode() if msg.key else None, msg.value or b""
            )
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group_id: str, topic: str) -> int | None:
    """Messages of ``topic`` the consumer group has not committed yet (None: group has no offsets yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
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


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.5) -> bool:
    """Poll an async predicate until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return False
