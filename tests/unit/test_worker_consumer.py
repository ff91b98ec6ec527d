"""The services' Kafka consumer: Faust's, with a short fetch long-poll (and a settable fetch minimum).

Why it matters: Faust builds aiokafka's consumer with ``fetch_max_wait_ms=1500``. aiokafka keeps one
fetch in flight per broker, so a partition whose buffered records ran out waited for the broker to
answer a fetch on other, idle partitions — the pipeline stalled about a second at a time under load.
The setting is applied by reaching into aiokafka's consumer before it starts, so these tests also pin
that aiokafka still reads the attribute where we set it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from services.common.settings import NormalizerSettings
from services.common.worker import RewindingTransport, ShortPollConsumerThread, make_app


@pytest_asyncio.fixture
async def worker_consumer(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[AIOKafkaConsumer]:
    """The aiokafka consumer a service's Faust worker would start (built in a loop, never started)."""
    settings = NormalizerSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path, **request.param)
    app = make_app(settings, CollectorRegistry())
    thread = cast(Any, app.consumer)._thread
    assert isinstance(app.transport, RewindingTransport)
    assert isinstance(thread, ShortPollConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    yield consumer
    consumer._closed = True  # never started: nothing to close


@pytest.mark.parametrize(
    ("worker_consumer", "fetch_max_wait_ms", "fetch_min_bytes"),
    [
        ({}, 100, 1),  # a short long-poll; a fetch answered on its first byte (aiokafka's default: lowest latency)
        ({"fetch_max_wait_ms": 250}, 250, 1),
        ({"fetch_min_bytes": 65536}, 100, 65536),  # more bytes per fetch trade latency for CPU (docs/performance.md)
    ],
    indirect=["worker_consumer"],
)
async def test_fetch_follows_the_settings(
    worker_consumer: AIOKafkaConsumer, fetch_max_wait_ms: int, fetch_min_bytes: int
) -> None:
    assert (worker_consumer._fetch_max_wait_ms, worker_consumer._fetch_min_bytes) == (
        fetch_max_wait_ms, fetch_min_bytes
    )


@pytest.mark.parametrize("attribute", ["fetch_max_wait_ms", "fetch_min_bytes"])
def test_aiokafka_builds_its_fetcher_from_the_attribute(attribute: str) -> None:
    """If aiokafka stops reading the attribute in ``start()``, the setting silently does nothing."""
    assert f"{attribute}=self._{attribute}" in inspect.getsource(AIOKafkaConsumer.start)


@pytest.mark.parametrize(("env_ms", "seconds"), [(None, 0.005), ("20", 0.02), ("0", 0.0)])
def test_producer_linger_follows_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_ms: str | None, seconds: float
) -> None:
    """Linger trades latency for CPU per message (docs/performance.md); ops set it with RASD_PRODUCER_LINGER_MS."""
    if env_ms is not None:
        monkeypatch.setenv("RASD_PRODUCER_LINGER_MS", env_ms)
    app = make_app(NormalizerSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path), CollectorRegistry())
    assert app.conf.producer_linger == pytest.approx(seconds)
