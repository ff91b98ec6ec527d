"""A broker outage on the real broker: the worker says so once, stays quiet, says when the broker is back.

Why (issue 16): with the broker stopped for 33 s each worker logged ~21,000 ``Unable connect to node…`` lines
(9.2 MB).  Here a broker of the test's own (the session's one is shared) is stopped for ~12 s and started
again on the same port and data: the normalizer logs one line when the outage starts and one when it ends,
``rasd_broker_up`` goes 0 then 1, and the worker normalizes an article after it.  That no more than one line
per 30 s passes in a longer outage is shown with a fake clock in tests/unit/test_outage_log.py (measured by
hand: 35 s away, 2 lines instead of 4,261).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rasd.kafka_io import publish
from rasd.kafka_local import LocalKafka, create_topics
from rasd.runner import WorkerProcess, Workers

from .helpers import collect, count, free_port, isolated_env

OUTAGE_S = 12.0
ARTICLE = b'{"id": "after-outage", "title": "t", "body": "Body text of a short article, published after the outage."}'


def broker_up(worker: WorkerProcess) -> float | None:
    for line in (worker.metrics_text() or "").splitlines():
        if line.startswith("rasd_broker_up{"):
            return float(line.rsplit(" ", 1)[1])
    return None


async def wait_for(condition: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout} s: {condition}"
        await asyncio.sleep(0.5)


async def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(tmp_path: Path) -> None:
    port, controller = free_port(), free_port()
    kafka = LocalKafka(data_dir=tmp_path / "kafka", port=port, controller_port=controller,
                       log_file=tmp_path / "broker.log").start()
    workers: Workers | None = None
    try:
        env, topics = isolated_env(tmp_path / "data")
        await create_topics(kafka.bootstrap_servers, topics.all(), partitions=4)
        workers = Workers(kafka.bootstrap_servers, log_dir=tmp_path / "logs", services=("normalizer",),
                          ports={"normalizer": free_port()}, extra_env=env)
        workers.start()
        workers.wait_ready()
        [worker] = workers.procs
        await wait_for("rasd_broker_up 1", lambda: broker_up(worker) == 1.0, 30)
        before = worker.log_path.read_text(errors="replace").count("\n")

        kafka.stop()
        await wait_for("rasd_broker_up 0", lambda: broker_up(worker) == 0.0, 15)
        await asyncio.sleep(OUTAGE_S)
        during = worker.log_path.read_text(errors="replace").splitlines()[before:]
        kafka = LocalKafka(data_dir=tmp_path / "kafka", port=port, controller_port=controller,
                           log_file=tmp_path / "broker2.log").start()
        await wait_for("rasd_broker_up 1 again", lambda: broker_up(worker) == 1.0, 60)
        await wait_for("the end of the outage logged",
                       lambda: "Kafka broker reachable again" in worker.log_path.read_text(errors="replace"), 15)

        await publish(kafka.bootstrap_servers, topics.raw, [ARTICLE])
        await collect(kafka.bootstrap_servers, [topics.normalized], lambda s: count(s, topics.normalized) >= 1, 60)
        assert worker.proc.poll() is None
    finally:
        if workers is not None:
            workers.stop()
        kafka.stop()

    log = worker.log_path.read_text(errors="replace").splitlines()[before:]
    started = [line for line in log if "Kafka broker unreachable" in line]
    ended = [line for line in log if "Kafka broker reachable again" in line]
    assert len(started) == 1 and len(ended) == 1, "\n".join(log[-40:])
    noisy = [line for line in during if "ERROR]" in line or "WARNING]" in line]
    assert len(noisy) <= 3, "\n".join(noisy[:20])  # the start, perhaps a slow lag refresh, nothing of aiokafka's
    assert not any("Unable connect" in line and "unreachable" not in line for line in log)
    suppressed = int(ended[0].split("(")[1].split()[0])
    assert suppressed > 10, ended[0]  # aiokafka did try to log its retries
