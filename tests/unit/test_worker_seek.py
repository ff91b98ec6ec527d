"""The services' consumer never delivers a record that its rewind-to-committed is about to skip.

Why: at the end of a table recovery Faust resumes the stream partitions and only then seeks them to their
committed offsets, one awaited committed-offset request per partition, while its fetcher keeps delivering.
Under CPU load the uncommitted-partitions integration test lost articles on partitions that *had* a committed
offset: a batch fetched from a partition's old position (past records Faust had dropped while no partition
was active) was delivered and acked, leaving Faust's read offset past the records read again after the seek,
which it then dropped ("DROPPED MESSAGE ROFF") and could commit past.  These tests drive the real consumer
(``RewindingConsumer``) with a scripted consumer thread, so the interleaving is exact rather than lucky.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest_asyncio
from aiokafka.structs import ConsumerRecord
from faust.types import TP as TopicPartition
from prometheus_client import CollectorRegistry

from services.common.settings import DeduplicatorSettings
from services.common.worker import RewindingConsumer, make_app

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = (ROOT / "seeds" / "002_e54ffb910fea662e.txt").read_bytes()
TOPIC = "articles.normalized"


def record(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, b"k", ARTICLE, None, 1, len(ARTICLE), ())


class ScriptedThread:
    """Stands in for Faust's aiokafka consumer thread: hands out queued batches, records what happened when."""

    def __init__(self, committed: dict[TopicPartition, int]) -> None:
        self.batches: asyncio.Queue[dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]] = asyncio.Queue()
        self.committed = committed
        self.events: list[str] = []
        self.seeking = False
        self.seek_started = asyncio.Event()
        self.finish_seek = asyncio.Event()

    async def getmany(self, active_partitions: Any, timeout: float) -> Any:
        self.events.append("fetch during seek" if self.seeking else "fetch")
        return await self.batches.get()

    async def seek_to_committed(self) -> dict[TopicPartition, int]:
        self.seeking = True
        self.events.append("seek")
        self.seek_started.set()
        await self.finish_seek.wait()  # the committed-offset requests, one per partition
        self.seeking = False
        return self.committed

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.events.append(f"rewind {sorted(tp.partition for tp in partitions)}")


@pytest_asyncio.fixture
async def consumer(tmp_path: Path) -> AsyncIterator[RewindingConsumer]:
    """The deduplicator's consumer, not started, with partition 1 committed at offset 4."""
    app = make_app(DeduplicatorSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path), CollectorRegistry())
    consumer = cast(RewindingConsumer, app.consumer)
    consumer._thread = cast(Any, ScriptedThread({TopicPartition(TOPIC, 1): 4}))
    consumer.highwater = lambda tp: 100  # type: ignore[method-assign]
    yield consumer


def thread_of(consumer: RewindingConsumer) -> ScriptedThread:
    return cast(ScriptedThread, consumer._thread)


async def delivered(consumer: RewindingConsumer) -> list[int]:
    return [message.offset async for _, message in consumer.getmany(timeout=1.0)]


async def test_a_batch_fetched_between_resume_and_seek_is_read_again_after_the_seek(
    consumer: RewindingConsumer,
) -> None:
    """Offset 9 came from past the records 4-8 Faust had dropped: delivered, Faust skipped and committed past them."""
    tp = TopicPartition(TOPIC, 1)
    thread = thread_of(consumer)
    consumer.resume_partitions({tp})  # Recovery.on_recovery_completed: resume, then perform_seek
    await thread.batches.put({tp: [record(1, 9)]})
    before_seek = await delivered(consumer)
    thread.finish_seek.set()
    await consumer.perform_seek()
    await thread.batches.put({tp: [record(1, offset) for offset in range(4, 10)]})
    after_seek = await delivered(consumer)
    assert (before_seek, after_seek) == ([], [4, 5, 6, 7, 8, 9])
    assert consumer._read_offset[tp] == 4  # what the seek set: nothing delivered meanwhile moved it


async def test_no_batch_is_fetched_or_delivered_while_the_seek_runs(consumer: RewindingConsumer) -> None:
    """A seek that starts mid-batch waits for the batch; the next fetch waits for the seek."""
    tp = TopicPartition(TOPIC, 1)
    thread = thread_of(consumer)
    consumer._set_active_tps({tp})
    await thread.batches.put({tp: [record(1, 4), record(1, 5)]})
    batch = consumer.getmany(timeout=1.0)
    first = await anext(batch)  # the fetcher is now delivering offset 4
    seek = asyncio.create_task(consumer.perform_seek())
    await asyncio.sleep(0.05)
    started_mid_batch = thread.seek_started.is_set()
    rest = [message.offset async for _, message in batch]
    await asyncio.wait_for(thread.seek_started.wait(), 1.0)
    await thread.batches.put({tp: [record(1, 4)]})
    fetch = asyncio.create_task(delivered(consumer))
    await asyncio.sleep(0.05)
    thread.finish_seek.set()
    await seek
    again = await asyncio.wait_for(fetch, 1.0)
    assert (first[1].offset, rest, started_mid_batch, again) == (4, [5], False, [4])
    assert "fetch during seek" not in thread.events, thread.events
