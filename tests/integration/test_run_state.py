"""The embedded broker's data survives in ``rasd run``'s state directory, and ``--fresh`` starts it empty — on the
real broker (rasd/kafka_local.py with rasd/state.py, as ``rasd run`` uses them).

Why: a second ``rasd run`` must find the first one's topics (the deduplicator's index and the alerter's stories are
rebuilt from their changelog topics), which holds only if the KRaft storage is formatted once and then reused, with
its cluster id, although every start picks a new controller port.  A whole ``rasd run --once`` takes 47-62 s on the
2-core machine, so the broker is driven directly in the first test (~23 s); the second runs the CLI as a user does,
three times on one state dir (~165 s): a seed alerts, then ``tests/data/near_copy_of_002.txt`` is a duplicate (no
alert; its verdict in articles.duplicates), then with ``--fresh`` the same copy alerts.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from rasd.inputs import read_articles
from rasd.kafka_io import message_key, publish
from rasd.kafka_local import LocalKafka, create_topics
from rasd.state import StateDir, locked, prepare
from services.common.settings import SERVICES

from .helpers import collect, free_port

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


def rasd_run(state_dir: Path, article: Path, *, fresh: bool = False) -> str:
    """One ``rasd run --once`` as a user types it, on its own embedded broker (RASD_BOOTSTRAP_SERVERS unset) and
    free ports; its output, after checking it exited 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASD_")} | {
        "RASD_LOCAL_KAFKA_PORT": str(free_port()), "RASD_WEB_PORT": str(free_port()), "RASD_PARTITIONS": "4",
        **{f"RASD_{s.upper()}_METRICS_PORT": str(free_port()) for s in SERVICES},
    }
    if cache := os.environ.get("RASD_CACHE_DIR"):  # where the broker's jars are
        env["RASD_CACHE_DIR"] = cache
    cmd = [sys.executable, "-m", "rasd", "run", "--once", "--timeout", "150", "--state-dir", str(state_dir)]
    proc = subprocess.run([*cmd, *(["--fresh"] if fresh else []), str(article)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def alert_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("[HIGH", "[MEDIUM", "[LOW"))]


@pytest.mark.timeout(600)  # three whole `rasd run --once` (47-62 s each on 2 cores) and a broker start
def test_rasd_run_keeps_its_state_across_runs_and_fresh_forgets_it(tmp_path: Path) -> None:
    """The CLI as a user runs it, three times on one ``--state-dir``: a seed alerts; then a near copy of it is a
    duplicate of the first run's article (the deduplicator's index came back from the kept broker): no alert;
    then ``--fresh`` and the same near copy is news again: it alerts."""
    state = StateDir(tmp_path / "state", "--state-dir")
    seed, copy = ROOT / "seeds" / "002_e54ffb910fea662e.txt", ROOT / "tests" / "data" / "near_copy_of_002.txt"
    [seed_id] = [message_key(raw) for raw in read_articles([seed])]
    [copy_id] = [message_key(raw) for raw in read_articles([copy])]
    assert seed_id != copy_id

    first = rasd_run(state.path, seed)
    assert f"state: {state.path} (--state-dir), new" in first
    assert [line for line in alert_lines(first) if f"({seed_id})" in line] == alert_lines(first) != [], first

    second = rasd_run(state.path, copy)
    assert f"state: {state.path} (--state-dir), reused: " in second, second
    assert "done: 1 article(s) through the pipeline" in second
    assert alert_lines(second) == [], second
    # `rasd run` prints nothing for a duplicate: its verdict is read from the kept broker (the run has stopped it).
    with locked(state), broker(state) as kafka:
        dups = "articles.duplicates"  # the default names: the run's environment has no RASD_TOPIC_*
        seen = asyncio.run(collect(kafka.bootstrap_servers, [dups], lambda s: any(k == copy_id for k, _ in s[dups]),
                                   60))
    [verdict] = [orjson.loads(value)["dedup"] for key, value in seen[dups] if key == copy_id]
    assert (verdict["status"], verdict["duplicate_of"]) == ("duplicate", seed_id), verdict

    third = rasd_run(state.path, copy, fresh=True)
    assert f"state: {state.path} (--state-dir), emptied first (--fresh)" in third, third
    assert [line for line in alert_lines(third) if f"({copy_id})" in line] == alert_lines(third) != [], third
