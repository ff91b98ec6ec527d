"""Shared pieces of the integration tests: isolated topic names, free ports, polling with a deadline."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from rasd.runner import Workers
from schemas.topics import Topics
from services.common.settings import SERVICES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def isolated_env(data_dir: Path) -> tuple[dict[str, str], Topics]:
    """Environment giving this test its own topics, consumer groups and state directory."""
    run = uuid.uuid4().hex[:8]
    names = {field: f"t{run}.{field}" for field in Topics.model_fields}
    env = {f"RASD_TOPIC_{field.upper()}": name for field, name in names.items()}
    env |= {"RASD_APP_ID_PREFIX": f"t{run}", "RASD_DATA_DIR": str(data_dir), "RASD_PARTITIONS": "4"}
    return env, Topics(**names)


def start_workers(bootstrap: str, env: dict[str, str], log_dir: Path) -> Workers:
    workers = Workers(
        bootstrap, log_dir=log_dir, ports={s: free_port() for s in SERVICES}, extra_env=env
    )
    workers.start()
    workers.wait_ready()
    return workers


Seen = dict[str, list[tuple[str | None, bytes]]]


async def collect(bootstrap: str, topics: list[str], done: Callable[[Seen], bool], timeout: float) -> Seen:
    """Read ``topics`` from the beginning until ``done(seen)`` holds; fail with the counts at the deadline."""
    seen: Seen = defaultdict(list)
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None, metadata_max_age_ms=1000,
    )
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        while not done(seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"deadline passed; seen so far: { {t: len(v) for t, v in seen.items()} }")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    seen[r.topic].append((r.key.decode() if r.key else None, r.value or b""))
    finally:
        await consumer.stop()
    return seen


def metric(page: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels`` (from a scraped /metrics page)."""
    total = 0.0
    for line in page.splitlines():
        m = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def count(seen: Seen, topic: str) -> int:
    return len(seen.get(topic, []))
