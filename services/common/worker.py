"""Faust plumbing shared by the four services: the app, the topics, the thin agent, metrics.

This is the only module (with :mod:`services.deduplicator.agent`) that imports
Faust.  The agent it builds only moves messages: bytes in, :func:`process_message`
(decode → core → encode, failures to the DLQ), bytes out.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import IllegalStateError
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types import TP
from prometheus_client import CollectorRegistry, start_http_server

from schemas.topics import Topics

from . import delivery, outage
from .lifecycle import BoundedWorker, group_instance_id, leave_on_close
from .metrics import StageMetrics, partition_lag
from .security import faust_credentials
from .settings import CommonSettings, metrics_port
from .stage import DEFAULT_LIMITS, Emit, Limits, Stage, process_message

log = logging.getLogger(__name__)
LAG_INTERVAL = 5.0  # seconds between consumer-lag refreshes (the Prometheus scrape interval)
# The partition of ``articles.normalized`` that holds every article, in the one order the deduplicator decides
# them in (services/deduplicator/agent.py).
ORDERED_PARTITION = 0


class OnePartition:
    """A sink that sends every message to one partition of its topic: a total order without a re-keying hop.

    The normalizer sends ``articles.normalized`` through one, so that topic's :data:`ORDERED_PARTITION` is the
    deduplicator's one ordered stream; the message keys stay the article ids.
    """

    def __init__(self, topic: Any, partition: int = ORDERED_PARTITION) -> None:
        self.topic = topic
        self.partition = partition

    async def send(self, *, key: bytes | None = None, value: bytes | None = None) -> Any:
        return await self.topic.send(key=key, value=value, partition=self.partition)

    def get_topic_name(self) -> str:
        name: str = self.topic.get_topic_name()
        return name


class ShortPollConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with a short fetch long-poll (Faust hard-codes ``fetch_max_wait_ms=1500``).

    aiokafka keeps one fetch request in flight per broker; partitions whose fetched records are still
    buffered are left out of it.  When those records are consumed while the request waits on partitions
    with nothing new, the worker cannot fetch them again until the broker answers — up to the long-poll
    wait.  With 1.5 s the pipeline stalled for about a second at a time (the deduplicator's one-partition
    sequence hop most of all); 100 ms (``RASD_FETCH_MAX_WAIT_MS``) took the Faust relay chain from
    ~290-430 to ~560-620 messages/s and the pipeline from ~215-235 to ~270 articles/s (docs/performance.md).
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher (tests/unit/test_worker_consumer.py checks it).
        consumer._fetch_max_wait_ms = getattr(transport, "fetch_max_wait_ms", consumer._fetch_max_wait_ms)
        consumer._fetch_min_bytes = getattr(transport, "fetch_min_bytes", consumer._fetch_min_bytes)
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        leave_on_close(self._consumer)  # a static member too leaves its group when it stops (lifecycle.py)


class RewindingConsumer(faust_kafka.Consumer):
    """Faust's Kafka consumer, except that a rewind also rewinds partitions the group never committed.

    Faust drops records it has fetched but will not deliver (at a rebalance, and when a table's recovery
    ends: for a moment no partition is active, a fetch returning then is drained for every partition and
    the records of inactive ones are discarded) and counts on "seek to the committed offsets" to read them
    again.  aiokafka seeks only partitions that have a committed offset, so a partition without one kept its
    position past the dropped records and they were lost for good: the near-copy the dedup scale test lost
    after a restart (tests/integration/test_uncommitted_partitions.py).  Here such a partition goes back to
    its beginning, where ``auto_offset_reset="earliest"`` started it: its records may be replayed, as a
    rewind to a committed offset replays, never skipped.  Changelogs are left alone (recovery seeks them).
    """

    # Faust resumes the stream partitions at the end of a recovery *before* it seeks them to their committed
    # offsets, and aiokafka's seek awaits one committed-offset request per partition, so batches kept being
    # delivered around the seek.  One fetched from a partition's old position (past the records dropped when
    # no partition was active) left Faust's read offset there and its records were acked, so Faust could
    # commit past the dropped ones; records read again from the new position arrived below that read offset
    # and were dropped too ("DROPPED MESSAGE ROFF"), the position already past them.  Under load the
    # uncommitted-partitions test lost articles this way on committed partitions as well.  So a resumed
    # partition delivers nothing until the seek that follows, and no batch is fetched or delivered during it.
    _batch_lock: asyncio.Lock | None = None  # held from a fetch until its records are delivered
    _batch_task: asyncio.Task[Any] | None = None  # the fetcher task that holds it
    _unsought: set[TP] | None = None  # resumed, not yet sought: their fetched records will be read again

    def _lock(self) -> asyncio.Lock:
        if self._batch_lock is None:
            self._batch_lock = asyncio.Lock()
        return self._batch_lock

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        tps = set(tps)
        self._unsought = (self._unsought or set()) | {tp for tp in tps if not self._is_changelog_tp(tp)}
        super().resume_partitions(tps)

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        await self._lock().acquire()  # released by getmany once the batch is delivered
        self._batch_task = asyncio.current_task()
        return await super()._getmany(active_partitions, timeout)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        fetcher = asyncio.current_task()
        try:
            async for tp, message in super().getmany(timeout):
                if not self._unsought or tp not in self._unsought:
                    yield tp, message
        finally:  # delivered, or the flow stopped, or the fetcher ended
            if self._batch_task is fetcher and self._batch_task is not None:
                self._batch_task = None
                self._lock().release()

    async def perform_seek(self) -> None:
        task, lock, resumed = self._batch_task, self._lock(), set(self._unsought or ())
        if task is asyncio.current_task():  # Faust's getmany seeks by itself when the flow has stopped
            await super().perform_seek()
        else:
            if task is not None and task.done():  # a fetcher that ended mid-batch without closing it
                self._batch_task = None
                lock.release()
            async with lock:
                await super().perform_seek()
        self._unsought = (self._unsought or set()) - resumed

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        never = [tp for tp, offset in committed.items() if (offset or 0) <= 0 and not self._is_changelog_tp(tp)]
        if never:
            try:
                await self._thread.seek_to_beginning(*never)
            except IllegalStateError as exc:  # revoked meanwhile: the next assignment positions them anew
                log.info("not rewinding %s: %s", never, exc)
        return committed

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        # Outputs the broker refused since the last commit become dead letters before their inputs are committed
        # (services/common/delivery.py); Faust's commit has flushed the producer just before, so all are known.
        if not await delivery.settle(self.app):
            return False  # a refused output's dead letter is not acknowledged yet: a later commit covers these offsets
        committed: bool = await super()._commit(offsets)
        return committed

    def _new_consumer_thread(self) -> faust_kafka.AIOKafkaConsumerThread:
        return ShortPollConsumerThread(self, loop=self.loop, beacon=self.beacon)


class RewindingTransport(faust_kafka.Transport):
    """Faust's aiokafka transport with the :class:`RewindingConsumer` and its fetch long-poll."""

    Consumer = RewindingConsumer
    fetch_max_wait_ms: int = 1500  # Faust's; make_app sets the service's setting
    fetch_min_bytes: int = 1  # aiokafka's default; likewise


def make_app(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """A Faust app for one service: raw bytes on the wire, memory tables backed by changelogs."""
    service = settings.service
    data_dir = Path(settings.data_dir) / f"{service}{worker_tag}"
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=faust_credentials(settings),  # RASD_KAFKA_* (SASL, TLS): consumer, producer, topic creation
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        datadir=str(data_dir),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Faust's default fetches at most 1 MiB per partition; articles are 6-20 KB, so a one-partition hop (the
        # deduplicator's sequence topic) got ~80 per fetch and its worker sat idle between fetches.  16 MiB per
        # partition (aiokafka still caps a whole fetch at 50 MiB) doubled the pipeline rate (docs/performance.md).
        consumer_max_fetch_size=16 * 1024 * 1024,
        # Wait up to RASD_PRODUCER_LINGER_MS (5 ms) to fill a produce request of up to 256 KiB instead of one request
        # per 16 KiB (two or three articles): +28 % pipeline throughput for ~+15 ms end-to-end latency at low load.
        # Longer lingers cut CPU per article further (20 ms: -13 %, 50 ms: -20 %) at more latency (performance.md).
        producer_linger=settings.producer_linger_ms / 1000.0,
        producer_max_batch_size=256 * 1024,
        # The largest message a stage sends (RASD_MAX_MESSAGE_BYTES); the stage edge dead-letters a bigger output
        # (reason too_large) before the producer sees it (docs/reliability.md, "Size limits").
        producer_max_request_size=settings.max_message_bytes,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # Faust creates its internal topics (sequence, changelogs) just before the first join; if the
        # broker's metadata lags behind, the assignor skips them ("Ignoring missing topic") and with the 5-minute
        # default the stage idles until the next refresh.  A 5 s refresh triggers the rebalance that assigns them.
        consumer_metadata_max_age_ms=5000,
        # Static membership (RASD_GROUP_INSTANCE_ID) and a 10 s session instead of Faust's 60 s: a restarted worker
        # takes its place back at once, a dead one's partitions move after 10 s (lifecycle.py, docs/reliability.md).
        consumer_group_instance_id=group_instance_id(settings.group_instance_id, service=service, tag=worker_tag),
        broker_session_timeout=settings.session_timeout_ms / 1000.0,
        broker_heartbeat_interval=min(1.0, settings.session_timeout_ms / 3000.0),
    )
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "faust"))
    app.transport = RewindingTransport(app.conf.broker_consumer, app)  # never-committed partitions lose nothing
    app.transport.fetch_max_wait_ms = settings.fetch_max_wait_ms
    app.transport.fetch_min_bytes = settings.fetch_min_bytes
    _limits[app] = settings.limits
    outage.watch_broker(app, service, registry)  # rasd_broker_up; a quiet log while the broker is away
    return app


_limits: weakref.WeakKeyDictionary[faust.App, Limits] = weakref.WeakKeyDictionary()


def make_topics(app: faust.App, settings: CommonSettings, names: tuple[str, ...]) -> dict[str, Any]:
    """Faust topic objects (bytes in, bytes out) for the given :class:`Topics` fields, plus the DLQ."""
    topics = settings.topics
    return {
        name: app.topic(getattr(topics, name), key_type=bytes, value_type=bytes, partitions=settings.partitions)
        for name in {*names, "dlq"}
    }


def attach_stage(
    app: faust.App,
    stage: Stage,
    source: Any,
    sinks: Mapping[str, Any],
    metrics: StageMetrics,
    *,
    ordered: OnePartition | None = None,
) -> None:
    """Register the thin agent: for each event, run the stage at the edge and send what it returns (an output
    the producer or the broker refuses becomes a dead letter: :class:`services.common.delivery.Delivery`).

    With ``ordered`` (a :class:`OnePartition` of the source topic) the stage sees only that partition's events,
    in their one order; an event on another partition (written before the normalizer kept one partition, or by
    another producer) is forwarded unchanged to the ordered partition, to be decided there in its turn.
    """
    limits = _limits.get(app, DEFAULT_LIMITS)
    # A forward goes through the stages' delivery: one the producer or the broker refuses is a dead letter too.
    sender = delivery.Delivery(stage.name, {**sinks, "forward": ordered} if ordered else sinks, metrics, limits)
    delivery.register(app, sender)
    ordered_partition = None if ordered is None else ordered.partition

    async def agent(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            msg = event.message
            if ordered_partition is not None and msg.partition != ordered_partition:
                await sender.send([Emit("forward", event.key or b"", event.value or b"")], value=event.value,
                                  topic=msg.topic, key=event.key, partition=msg.partition, offset=msg.offset)
                continue
            emits = process_message(
                stage,
                event.value,
                now=time.time(),
                topic=msg.topic,
                key=event.key,
                partition=msg.partition,
                offset=msg.offset,
                metrics=metrics,
                limits=limits,
            )
            await sender.send(emits, value=event.value, topic=msg.topic, key=event.key, partition=msg.partition,
                              offset=msg.offset)

    app.agent(source, name=f"rasd.{stage.name}")(agent)
    watch_lag(app, metrics, {source, *sinks.values()})


def watch_lag(app: faust.App, metrics: StageMetrics, topics: set[Any], interval: float = LAG_INTERVAL) -> None:
    """Every ``interval`` seconds, refresh ``rasd_consumer_lag`` from the consumer's assigned partitions.

    Topics are labelled by their :class:`Topics` field (``raw``, ``normalized``…); another topic (an internal
    one of the app) by its name without the app id.
    """
    fields = {name: key for key, name in Topics().model_dump().items()}
    labels: dict[str, str] = {}
    for topic in topics:
        name = topic.get_topic_name()
        labels[name] = fields.get(name, name.removeprefix(f"{app.conf.id}-"))

    async def refresh() -> None:
        consumer = app.consumer
        try:
            assigned = {(tp.topic, tp.partition): tp for tp in consumer.assignment() if tp.topic in labels}
            ends = await consumer.highwaters(*assigned.values()) if assigned else {}
            committed = getattr(consumer, "_committed_offset", {})  # Faust keeps the last commit per partition
            done = {key: committed.get(tp) for key, tp in assigned.items()}
            missing = [assigned[key] for key, offset in done.items() if offset is None]
            earliest = await consumer.earliest_offsets(*missing) if missing else {}
        except Exception as exc:  # rebalancing, broker away: keep the last snapshot, try again next time
            log.debug("consumer lag not refreshed: %s", exc)
            return
        metrics.lag.update(
            partition_lag(
                labels,
                {(tp.topic, tp.partition): int(end) for tp, end in ends.items()},
                done,
                {(tp.topic, tp.partition): int(offset) for tp, offset in earliest.items()},
            )
        )

    app.timer(interval, name=f"rasd.{metrics.service}.lag")(refresh)


def serve_metrics(settings: CommonSettings, registry: CollectorRegistry, port: int | None = None) -> int:
    """Start the Prometheus HTTP endpoint (``/metrics``) for this service; returns the port."""
    chosen = metrics_port(settings) if port is None else port
    start_http_server(chosen, addr=settings.metrics_host, registry=registry)
    log.info("metrics for %s on http://%s:%d/metrics", settings.service, settings.metrics_host, chosen)
    return chosen


def run_worker(app: faust.App, *, loglevel: str = "INFO", shutdown_timeout: float | None = None) -> None:
    """Run the Faust worker until SIGINT/SIGTERM (blocks); it exits at most ``shutdown_timeout`` seconds
    (``RASD_SHUTDOWN_TIMEOUT``) after the signal, stopped in order or not (lifecycle.py)."""
    outage.install()  # aiokafka's ~100 lines a second while the broker is away: one every 30 s (outage.py)
    timeout = CommonSettings().shutdown_timeout if shutdown_timeout is None else shutdown_timeout
    worker = BoundedWorker(app, loglevel=loglevel, quiet=True, shutdown_timeout=timeout)
    worker.execute_from_commandline()


def build_stage_app(
    settings: CommonSettings,
    registry: CollectorRegistry,
    stage: Stage,
    *,
    worker_tag: str = "",
    ordered_targets: tuple[str, ...] = (),
) -> faust.App:
    """The whole Faust app of a stateless stage: its source topic, its sinks and the thin agent; each target in
    ``ordered_targets`` gets every output on one partition (:class:`OnePartition`)."""
    app = make_app(settings, registry, worker_tag=worker_tag)
    topics: dict[str, Any] = make_topics(app, settings, (stage.source, *stage.targets))
    topics |= {name: OnePartition(topics[name]) for name in ordered_targets}
    metrics = StageMetrics(registry, stage.name, consumes=[stage.source], produces=[*stage.targets, "dlq"])
    attach_stage(app, stage, topics[stage.source], topics, metrics)
    return app
