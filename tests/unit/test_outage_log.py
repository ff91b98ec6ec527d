"""Quiet outages: the log filter on aiokafka's loggers and the ``rasd_broker_up`` probe (issue 16, item 4).

Why: with the broker stopped for 33 s each worker logged ~21,000 ``Unable connect to node…`` lines (9.2 MB).
Now an outage is one line when it starts, at most one every 30 s while it lasts, one when it ends; and the
gauge says whether the worker reaches the broker.  The clock is faked here; the real broker is stopped and
restarted in tests/integration/test_broker_outage.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.common.outage import AIOKAFKA_LOGGERS, OutageLog, install, watch_broker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, "client.py", 435, message, args, None)


UNABLE = ("Unable connect to node with id %s: %s", 1, "[Errno 111] Connect call failed ('127.0.0.1', 9092)")
FETCH = ("Failed fetch messages from %s: %s", 1, "NodeNotReadyError: Attempt to send a request to node which is "
         "not ready (node id 1).")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def report() -> logging.Logger:
    return logging.getLogger("tests.outage.report")


def test_an_outage_logs_once_then_once_every_30_seconds(clock: Clock, report: logging.Logger) -> None:
    """100 lines a second for 95 s (what aiokafka logs with the broker gone) let 4 through: the start, and one
    at 30, 60 and 90 s, each with how long it has lasted and how many lines were dropped since the last."""
    outage = OutageLog(clock=clock, report=report)
    passed: list[str] = []
    for i in range(9_500):
        clock.now = 1000.0 + i / 100
        rec = record(*(UNABLE if i % 3 else FETCH))
        if outage.filter(rec):
            passed.append(rec.getMessage())
    assert len(passed) == 4
    assert passed[0].startswith("Kafka broker unreachable: Failed fetch messages from 1: NodeNotReadyError")
    assert passed[0].endswith("(until it is back, one line every 30 s)")
    assert [p.split(" (")[0] for p in passed[1:]] == [
        f"Kafka broker still unreachable after {s} s" for s in (30, 60, 90)
    ]
    assert "after 30 s (2999 lines suppressed): Failed fetch messages from 1" in passed[1]
    assert outage.down and outage.suppressed_total == 9_496


def test_the_end_of_an_outage_is_said_once(
    clock: Clock, report: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    outage = OutageLog(clock=clock, report=report)
    outage.filter(record(*UNABLE))
    for _ in range(50):
        outage.filter(record(*UNABLE))
    clock.now += 42
    with caplog.at_level(logging.INFO, logger=report.name):
        outage.mark_up()
        outage.mark_up()
    said = [r.getMessage() for r in caplog.records]
    assert said == ["Kafka broker reachable again after 42 s (50 log lines suppressed)"]
    assert not outage.down
    rec = record(*UNABLE)  # a new outage starts afresh
    assert outage.filter(rec) and rec.getMessage().startswith("Kafka broker unreachable: ")


def test_other_records_pass_unchanged_outside_an_outage_and_info_always(clock: Clock, report: logging.Logger) -> None:
    """A refused record or a rebalance is not an outage; INFO lines (joining the group) are never dropped."""
    outage = OutageLog(clock=clock, report=report)
    for message in ("Got error produce response: MessageSizeTooLargeError", "Marking the coordinator dead (node 1)"):
        rec = record(message, level=logging.WARNING)
        assert outage.filter(rec) and rec.getMessage() == message
    assert not outage.down
    outage.filter(record(*UNABLE))
    assert not outage.filter(record("Marking the coordinator dead (node 1)", level=logging.WARNING))
    assert outage.filter(record("(Re-)joining group rasd-normalizer", level=logging.INFO))


COORDINATOR_LOST: list[tuple[Any, ...]] = [
    ("Heartbeat failed for group %s: coordinator (node %s) is either not started or not valid", "rasd-normalizer", 1),
    ("Marking the coordinator dead (node %s)for group %s.", 1, "rasd-normalizer"),
    *[("Group Coordinator Request failed: %s", "[Error 15] GroupCoordinatorNotAvailableError")] * 13,
]


def test_a_dying_broker_seen_first_by_the_group_coordinator_is_one_outage(
    clock: Clock, report: logging.Logger
) -> None:
    """Why: CI saw aiokafka lose the coordinator for 1.4 s (15 lines) before any connection failed, and all 15
    passed.  Now the first passes, the repeats are held, and the outage that follows counts them as its own."""
    outage = OutageLog(clock=clock, report=report)
    passed = []
    for i, args in enumerate(COORDINATOR_LOST):
        clock.now = 1000.0 + i / 10
        rec = record(*args, level=logging.WARNING)
        if outage.filter(rec):
            passed.append(rec.getMessage())
    assert passed == ["Heartbeat failed for group rasd-normalizer: coordinator (node 1) is either not started or "
                      "not valid"]
    assert not outage.down
    rec = record(*UNABLE)
    assert outage.filter(rec) and rec.getMessage().startswith("Kafka broker unreachable: Unable connect to node")
    assert outage.down and outage.suppressed_total == len(COORDINATOR_LOST) - 1


def test_a_coordinator_that_moves_while_the_broker_answers_ends_with_one_line(
    clock: Clock, report: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """A coordinator moving (a worker starting, a broker of a cluster restarting) is no outage: the probe finds
    the broker, says how many lines it held back, and the next loss is reported again."""
    outage = OutageLog(clock=clock, report=report)
    held = [outage.filter(record(*args, level=logging.WARNING)) for args in COORDINATOR_LOST]
    assert held.count(True) == 1
    with caplog.at_level(logging.INFO, logger=report.name):
        outage.mark_up()
        outage.mark_up()
    assert [r.getMessage() for r in caplog.records] == [
        f"Kafka broker reachable: the group coordinator moved ({len(COORDINATOR_LOST) - 1} log lines suppressed)"
    ]
    assert not outage.down
    assert outage.filter(record(*COORDINATOR_LOST[1], level=logging.WARNING))


def test_a_coordinator_loss_the_probe_never_judges_is_said_again_after_the_interval(
    clock: Clock, report: logging.Logger
) -> None:
    outage = OutageLog(clock=clock, report=report)
    lost = COORDINATOR_LOST[-1]
    assert outage.filter(record(*lost))
    clock.now += 29
    assert not outage.filter(record(*lost))
    clock.now += 1
    assert outage.filter(record(*lost))


def test_the_probe_makes_held_coordinator_lines_part_of_the_outage(
    clock: Clock, report: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    outage = OutageLog(clock=clock, report=report)
    for args in COORDINATOR_LOST:
        outage.filter(record(*args, level=logging.WARNING))
    outage.mark_down("no connection to kafka://127.0.0.1:9092")
    clock.now += 12
    with caplog.at_level(logging.INFO, logger=report.name):
        outage.mark_up()
    assert caplog.records[-1].getMessage() == (
        f"Kafka broker reachable again after 12 s ({len(COORDINATOR_LOST) - 1} log lines suppressed)"
    )


def test_the_probe_starts_an_outage_when_aiokafka_has_said_nothing(
    clock: Clock, report: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    outage = OutageLog(clock=clock, report=report)
    with caplog.at_level(logging.INFO, logger=report.name):
        outage.mark_down("no connection to kafka://127.0.0.1:9092")
        outage.mark_down("no connection to kafka://127.0.0.1:9092")
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka broker unreachable: no connection to kafka://127.0.0.1:9092 (until it is back, one line every 30 s)"
    ]
    assert not outage.filter(record(*UNABLE))  # already announced: aiokafka's lines are throttled


def test_install_puts_the_filter_on_the_aiokafka_loggers(caplog: pytest.LogCaptureFixture) -> None:
    import aiokafka.client  # noqa: F401 - its logger is "aiokafka"

    outage = OutageLog()
    install(outage)
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(1_000):
                logging.getLogger("aiokafka").error(*UNABLE)
                logging.getLogger("aiokafka.consumer.fetcher").error(*FETCH)
        assert len(caplog.records) == 1 and caplog.records[0].getMessage().startswith("Kafka broker unreachable")
    finally:
        for name in {*AIOKAFKA_LOGGERS, *logging.root.manager.loggerDict}:
            if name.startswith("aiokafka"):
                logging.getLogger(name).removeFilter(outage)


class FakeClient:
    def __init__(self) -> None:
        self.reachable = True
        self.cluster = SimpleNamespace(brokers=lambda: [SimpleNamespace(nodeId=1)])

    async def ready(self, node_id: int) -> bool:
        return self.reachable


async def test_rasd_broker_up_follows_the_probe_and_ends_the_outage(report: logging.Logger) -> None:
    timers: list[Callable[[], Coroutine[Any, Any, None]]] = []
    client = FakeClient()
    app = SimpleNamespace(
        producer=SimpleNamespace(_producer=None), conf=SimpleNamespace(broker="kafka://127.0.0.1:9092"),
        timer=lambda interval, name: timers.append,
    )
    registry, outage = CollectorRegistry(), OutageLog(report=report)
    watch_broker(app, "normalizer", registry, outage)
    [probe] = timers

    def up() -> float | None:
        return registry.get_sample_value("rasd_broker_up", {"service": "normalizer"})

    assert up() == 0  # pre-initialised: not connected yet
    await probe()
    assert up() == 0  # the producer has not started: unknown, left as it is
    app.producer._producer = SimpleNamespace(client=client)
    await probe()
    assert up() == 1 and not outage.down
    client.reachable = False
    await probe()
    assert up() == 0 and outage.down
    client.reachable = True
    await probe()
    assert up() == 1 and not outage.down


async def test_a_probe_that_hangs_counts_as_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.common import outage as module

    class Hanging(FakeClient):
        async def ready(self, node_id: int) -> bool:
            await asyncio.sleep(10)
            return True

    app = SimpleNamespace(producer=SimpleNamespace(_producer=SimpleNamespace(client=Hanging())))
    assert await module.broker_reachable(app, timeout=0.05) is False
