"""Quiet broker outages: one line when the broker goes away, one every 30 s while it stays away, one when
it is back, and ``rasd_broker_up`` (docs/reliability.md, "Failure matrix").

While a broker is unreachable, aiokafka logs every failed attempt at ERROR: ``Unable connect to node with id
1`` and ``Unable to update metadata from [1]`` from the ``aiokafka`` logger (``aiokafka/client.py``), ``Failed
fetch messages from 1: NodeNotReadyError`` from ``aiokafka.consumer.fetcher``, ``Group Coordinator Request
failed`` and ``Marking the coordinator dead`` from ``aiokafka.consumer.group_coordinator``, ``Got error produce
response`` from ``aiokafka.producer.sender`` — about 100 lines a second per worker here (21,000 in 33 s in
issue 16's run, 9.2 MB).  :class:`OutageLog` is a :class:`logging.Filter` on those loggers: the first record
that says the broker cannot be reached passes, marked as the start of an outage; until the broker is back,
every other WARNING-or-worse aiokafka record is dropped except one every ``interval`` seconds, which passes
with the outage's age and how many lines were dropped.  The worker's probe (:func:`watch_broker`, every
5 s) tells it when the broker answers again, and it logs that once, with the outage's length.

A broker that dies is often first seen by the group coordinator (``Heartbeat failed … not valid``, ``Marking
the coordinator dead``, ``Group Coordinator Request failed`` a dozen times a second) before any connection
fails, but the same lines also come when the coordinator merely moves (a worker starting, a broker restarting
in a cluster).  So the first of them passes and its repeats are held back until the probe decides: an
unreachable broker makes them part of the outage, a reachable one ends the hold with one line saying how many
were dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

log = logging.getLogger(__name__)
OUTAGE_LOG_INTERVAL = 30.0  # seconds between two log lines about one outage
PROBE_INTERVAL = 5.0  # seconds between two broker checks
PROBE_TIMEOUT = 4.0  # longest one check may take (a host that drops packets answers no connect at all)
# The aiokafka loggers (every module's own; a filter on a logger does not see its children's records).
AIOKAFKA_LOGGERS = (
    "aiokafka", "aiokafka.conn", "aiokafka.cluster", "aiokafka.client", "aiokafka.consumer.consumer",
    "aiokafka.consumer.fetcher", "aiokafka.consumer.group_coordinator", "aiokafka.consumer.subscription_state",
    "aiokafka.producer.producer", "aiokafka.producer.sender", "aiokafka.producer.message_accumulator",
    "aiokafka.admin.client",
)
# What aiokafka says when it cannot reach a broker (the start of an outage); other warnings (a refused record,
# a rebalance) pass as before unless an outage is under way.
UNREACHABLE = (
    "Unable connect to", "Unable to update metadata", "Unable to request metadata", "NodeNotReadyError",
    "KafkaConnectionError", "Connect call failed", "Connection refused", "ConnectionResetError",
)
# What aiokafka says when the group coordinator is gone: a dead broker, or only a coordinator moving.
COORDINATOR_LOST = (
    "Marking the coordinator dead", "Group Coordinator Request failed", "is either not started or not valid",
    "GroupCoordinatorNotAvailable", "NotCoordinatorForGroup", "CoordinatorNotAvailable",
)


class OutageLog(logging.Filter):
    """Throttles the aiokafka records of a broker outage and reports its start and end (thread-safe)."""

    def __init__(
        self,
        interval: float = OUTAGE_LOG_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        report: logging.Logger = log,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.report = report
        self.down_since: float | None = None
        self._last_line = 0.0
        self.suppressed = 0  # since the last line that passed
        self.suppressed_total = 0  # in this outage
        self.coordinator_lost_since: float | None = None  # a held-back coordinator loss the probe has not judged
        self.coordinator_lines = 0  # its repeats dropped so far
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        with self._lock:
            now = self.clock()
            if self.down_since is None:
                message = record.getMessage()
                if not any(marker in message for marker in UNREACHABLE):
                    return self._coordinator_record(message, now)
                self._start(now)
                self._rewrite(record, "Kafka broker unreachable: {} (until it is back, one line every {:.0f} s)",
                              self.interval)
                return True
            if now - self._last_line >= self.interval:
                self._rewrite(record, "Kafka broker still unreachable after {:.0f} s ({} lines suppressed): {}",
                              now - self.down_since, self.suppressed, first=False)
                self._last_line, self.suppressed = now, 0
                return True
            self.suppressed += 1
            self.suppressed_total += 1
            return False

    def _coordinator_record(self, message: str, now: float) -> bool:
        """Outside an outage: the first line of a coordinator loss passes, its repeats wait for the probe (at most
        ``interval`` seconds: a loss that long with the broker reachable is worth a line again)."""
        if not any(marker in message for marker in COORDINATOR_LOST):
            return True
        if self.coordinator_lost_since is None or now - self.coordinator_lost_since >= self.interval:
            self.coordinator_lost_since, self.coordinator_lines = now, 0
            return True
        self.coordinator_lines += 1
        return False

    def _start(self, now: float) -> None:
        """An outage starts; the coordinator lines held back so far belong to it."""
        held = self.coordinator_lines
        self.down_since, self._last_line, self.suppressed, self.suppressed_total = now, now, held, held
        self.coordinator_lost_since, self.coordinator_lines = None, 0

    @staticmethod
    def _rewrite(record: logging.LogRecord, template: str, *values: Any, first: bool = True) -> None:
        message = record.getMessage().strip()
        record.msg = template.format(message, *values) if first else template.format(*values, message)
        record.args = ()

    def mark_down(self, error: str) -> None:
        """The probe could not reach the broker: the start of an outage, unless aiokafka said so already."""
        with self._lock:
            if self.down_since is not None:
                return
            self._start(self.clock())
        self.report.warning("Kafka broker unreachable: %s (until it is back, one line every %.0f s)", error,
                            self.interval)

    def mark_up(self) -> None:
        """The broker answered: the end of an outage, if there was one, or of a held-back coordinator loss."""
        with self._lock:
            if self.down_since is None:
                lasted, dropped = None, self.coordinator_lines
                self.coordinator_lost_since, self.coordinator_lines = None, 0
            else:
                lasted, dropped = self.clock() - self.down_since, self.suppressed_total
                self.down_since, self.suppressed, self.suppressed_total = None, 0, 0
        if lasted is not None:
            self.report.info("Kafka broker reachable again after %.0f s (%d log lines suppressed)", lasted, dropped)
        elif dropped:
            self.report.info("Kafka broker reachable: the group coordinator moved (%d log lines suppressed)", dropped)


OUTAGE = OutageLog()  # the worker process's one instance: its filter and its probe share the outage


def install(outage: OutageLog = OUTAGE) -> None:
    """Put ``outage`` on every aiokafka logger (known ones, and any other already created)."""
    names = set(AIOKAFKA_LOGGERS) | {
        name for name in logging.root.manager.loggerDict if name == "aiokafka" or name.startswith("aiokafka.")
    }
    for name in sorted(names):
        logger = logging.getLogger(name)
        if outage not in logger.filters:
            logger.addFilter(outage)


async def broker_reachable(app: Any, timeout: float = PROBE_TIMEOUT) -> bool | None:
    """Can the app's producer reach a broker now?  ``None`` while the producer has not started.

    A connection to one broker of the cluster (kept by aiokafka once made, made again after the broker closed
    it) is enough: the producer sends every stage's output, so it is the client that matters to the pipeline.
    """
    producer = getattr(app.producer, "_producer", None)
    client = getattr(producer, "client", None)
    if client is None:
        return None
    nodes = [broker.nodeId for broker in client.cluster.brokers()]
    for node in nodes:
        try:
            if await asyncio.wait_for(client.ready(node), timeout):
                return True
        except Exception:  # a timeout, a refused connection, stale metadata: not reachable through this one
            continue
    return False


def watch_broker(
    app: Any, service: str, registry: CollectorRegistry, outage: OutageLog = OUTAGE, interval: float = PROBE_INTERVAL
) -> Gauge:
    """``rasd_broker_up{service}``: 1 while the worker's producer reaches a broker, 0 otherwise (0 until the first
    check succeeds), refreshed every ``interval`` seconds; the check also ends or starts ``outage``."""
    up = Gauge("rasd_broker_up", "1 while this worker reaches a Kafka broker, else 0", ["service"], registry=registry)
    gauge = up.labels(service)
    gauge.set(0)

    async def probe() -> None:
        reachable = await broker_reachable(app)
        if reachable is None:
            return
        gauge.set(1 if reachable else 0)
        if reachable:
            outage.mark_up()
        else:
            outage.mark_down(f"no connection to {app.conf.broker}")

    app.timer(interval, name=f"rasd.{service}.broker")(probe)
    return up
