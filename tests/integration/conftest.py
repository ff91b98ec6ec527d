"""Integration-test plumbing: one real Kafka broker for the whole session, and the `integration` mark.

Why a session fixture: a KRaft broker takes a few seconds to format and start, so every test shares one and
isolates itself with uuid topic names and group ids instead. ``RASD_TEST_BOOTSTRAP_SERVERS`` points the suite
at an already running broker (e.g. a developer's ``python -m rasd.kafka_local``) and skips the local one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rasd.kafka_local import LocalKafka, wait_for_broker

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration (and only those) with ``pytest.mark.integration``."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of the session's broker: external if configured, else a LocalKafka."""
    external = os.environ.get("RASD_TEST_BOOTSTRAP_SERVERS", "").strip()
    if external:
        asyncio.run(wait_for_broker(external, timeout=30))
        yield external
        return
    log_dir = tmp_path_factory.mktemp("kafka-log")
    with LocalKafka(log_file=log_dir / "broker.log") as kafka:
        yield kafka.bootstrap_servers
