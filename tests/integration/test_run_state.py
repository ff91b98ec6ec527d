"""The embedded broker's data survives in ``rasd run``'s state directory, and ``--fresh`` starts it empty — on the
real broker (rasd/kafka_local.py with rasd/state.py, as ``rasd run`` uses them).

Why: a second ``rasd run`` must find the first one's topics (the deduplicator's index and the alerter's stories are
rebuilt from their changelog topics), which holds only if the KRaft storage is formatted once and then reused, with
its cluster id, although every start picks a new controller port.  A whole ``rasd run --once`` takes 47-62 s on the
2-core machine, so the broker is driven directly here (~23 s).  By hand, when this was written: ``rasd run --once
--fresh`` (the seeds: one alert), then ``rasd run --once tests/data/near_copy_of_002.txt`` on the same state dir
(no alert; the copy is in articles.duplicates, and articles.raw holds all three).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from rasd.inputs import read_articles
from rasd.kafka_io import publish
from rasd.kafka_local import LocalKafka, create_topics
from rasd.state import StateDir, locked, prepare

from .helpers import collect

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "articles.raw"


def cluster_id(state: StateDir) -> str:
    for line in (state.kafka_dir / "logs" / "meta.properties").read_text().splitlines():
        if line.startswith("cluster.id="):
            return line.partition("=")[2]
    raise AssertionError("no cluster.id")


async def topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        names: set[str] = await consumer.topics()
        return names
    finally:
        await consumer.stop()


def broker(state: StateDir) -> LocalKafka:
    return LocalKafka(data_dir=state.kafka_dir, log_file=state.log_dir / "kafka.log")


def test_the_broker_keeps_its_topics_across_runs_and_fresh_starts_empty(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state", "--state-dir")
    seeds = list(read_articles([ROOT / "seeds"]))

    with locked(state):
        assert prepare(state, fresh=False) == "new"
        with broker(state) as kafka:
            first_ports = (kafka.port, kafka.controller_port)
            asyncio.run(create_topics(kafka.bootstrap_servers, [TOPIC]))
            keys = asyncio.run(publish(kafka.bootstrap_servers, TOPIC, seeds))
        formatted_as = cluster_id(state)

    with locked(state):  # the next run: same storage, other ports
        assert prepare(state, fresh=False) == "reused"
        with broker(state) as kafka:
            assert (kafka.port, kafka.controller_port) != first_ports
            seen = asyncio.run(collect(kafka.bootstrap_servers, [TOPIC], lambda s: len(s[TOPIC]) >= len(seeds), 30))
            assert [key for key, _ in seen[TOPIC]] == keys
            assert [value for _, value in seen[TOPIC]] == seeds
            asyncio.run(publish(kafka.bootstrap_servers, TOPIC, seeds[:1]))  # and it takes more
        assert cluster_id(state) == formatted_as  # not formatted again

    with locked(state):
        assert prepare(state, fresh=True) == "fresh"
        with broker(state) as kafka:
            assert TOPIC not in asyncio.run(topics(kafka.bootstrap_servers))
        assert cluster_id(state) != formatted_as  # a new cluster
