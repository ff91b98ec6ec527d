"""The embedded broker itself: the pinned version, a produce/consume round trip through a consumer group,
topic creation, and that stop() really ends the JVM (no leaked Java processes between test runs)."""

from __future__ import annotations

import socket
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from rasd.kafka_local import KAFKA_VERSION, POM_PATH, LocalKafka, create_topics

POLL_DEADLINE_S = 30.0


def test_pom_default_version_matches_python_constant() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    prop = ET.parse(POM_PATH).getroot().find("m:properties/m:kafka.version", ns)
    assert prop is not None and prop.text == KAFKA_VERSION


async def _consume(bootstrap: str, topic: str, group: str, expected: int) -> list[tuple[bytes, bytes]]:
    """Read through consumer group ``group`` until ``expected`` records arrived or the deadline passed."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + POLL_DEADLINE_S
        while len(got) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got += [(r.key or b"", r.value or b"") for records in batch.values() for r in records]
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


async def test_produce_consume_round_trip_with_consumer_group(kafka_bootstrap: str) -> None:
    topic, group = f"it-roundtrip-{uuid.uuid4().hex}", f"it-group-{uuid.uuid4().hex}"
    await create_topics(kafka_bootstrap, [topic], partitions=2)
    sent = [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(25)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in sent:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    got = await _consume(kafka_bootstrap, topic, group, len(sent))
    assert sorted(got) == sorted(sent)

    # The group committed its position: a second member of the same group starts at the end.
    assert await _consume(kafka_bootstrap, topic, group, 0) == []
    check = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await check.start()
    try:
        committed = [await check.committed(TopicPartition(topic, p)) for p in (0, 1)]
    finally:
        await check.stop()
    assert sum(c or 0 for c in committed) == len(sent)


async def test_create_topics_sets_partitions_and_is_idempotent(kafka_bootstrap: str) -> None:
    topics = [f"it-create-{uuid.uuid4().hex}", f"it-create-{uuid.uuid4().hex}"]
    await create_topics(kafka_bootstrap, topics, partitions=4)
    await create_topics(kafka_bootstrap, topics, partitions=4)  # already there: no error

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    by_name = {t["topic"]: t for t in described}
    assert {name: by_name[name]["error_code"] for name in topics} == dict.fromkeys(topics, 0)
    assert {name: len(by_name[name]["partitions"]) for name in topics} == dict.fromkeys(topics, 4)


def _jvm_alive(pid: int) -> bool:
    """True if ``pid`` still runs the Kafka JVM (compared by cmdline, so a reused pid does not count)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    return b"kafka.Kafka" in cmdline


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_stop_ends_the_jvm_and_keeps_a_given_data_dir(tmp_path: Path) -> None:
    """A second, separate broker on its own data dir: stop() must leave no JVM and no listening port;
    restarting on the same data dir (as ``python -m rasd.kafka_local --data-dir`` does) keeps the data."""
    data_dir = tmp_path / "kafka-data"
    topic = f"it-stop-{uuid.uuid4().hex}"
    kafka = LocalKafka(data_dir=data_dir, log_file=tmp_path / "broker.log")
    with kafka:
        pid, port = kafka.pid, kafka.port
        assert pid is not None and _jvm_alive(pid) and _port_open(port)
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"survives restart")
        finally:
            await producer.stop()
    assert not kafka.running and kafka.pid is None
    assert not _jvm_alive(pid), "stop() returned but the Kafka JVM is still running"
    assert not _port_open(port)
    assert (data_dir / "logs" / "meta.properties").is_file(), "a caller-given data dir must be kept"

    with LocalKafka(data_dir=data_dir, log_file=tmp_path / "broker2.log") as again:
        got = await _consume(again.bootstrap_servers, topic, f"it-group-{uuid.uuid4().hex}", 1)
        pid2 = again.pid
    assert got == [(b"", b"survives restart")]
    assert pid2 is not None and not _jvm_alive(pid2)
