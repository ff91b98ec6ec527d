"""Do-nothing relays: the two ceilings the pipeline is compared with.

``python -m bench.relay faust NAME SRC:DST [SRC:DST …]`` — a Faust worker built by the services' own
:func:`services.common.worker.make_app` (same client settings: acks=-1, commit every/interval, raw
bytes, the Prometheus sensor) with one thin agent per hop that only forwards ``event.key`` /
``event.value`` — the same loop as :func:`services.common.worker.attach_stage` minus the stage.

``python -m bench.relay bare NAME SRC:DST [SRC:DST …]`` — plain aiokafka: one consumer group
(manual commits) and one producer (acks=all, the same linger and batch size as Faust's producer);
it forwards each fetched batch, waits for the broker's acks and only then commits the batch's
offsets (at-least-once, like Faust).

A process with two hops is the deduplicator's shape: ``route`` (normalized → sequence) and
``decide`` (sequence → unique) in one worker.

Same payloads: with ``BENCH_PAYLOADS=DIR``, a hop to topic ``T`` sends, instead of the value it received,
the message the pipeline sends at that hop for the same article (``DIR/T.pickle``: key → value, made by
the bench from the offline run of the four cores) — 12–22 KB normalized and enriched articles rather
than the 6 KB raw one at every hop.  The lookup is one dict access per message.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

RelayHops = list[tuple[str, str]]


def parse_hops(specs: list[str]) -> RelayHops:
    return [(s.split(":", 1)[0], s.split(":", 1)[1]) for s in specs]


def payloads(topics: list[str]) -> dict[str, dict[bytes, bytes]]:
    """Per destination topic, the pipeline's message for each article key (empty without BENCH_PAYLOADS)."""
    directory = os.environ.get("BENCH_PAYLOADS")
    out: dict[str, dict[bytes, bytes]] = {}
    for topic in topics:
        path = Path(directory or "-") / f"{topic}.pickle"
        if directory and path.exists():
            out[topic] = pickle.loads(path.read_bytes())
    return out


def knobs() -> dict[str, Any]:
    """``BENCH_KNOBS`` (JSON): settings tried on top of make_app's — any ``app.conf`` attribute, plus
    ``uvloop`` (true), ``no_monitor`` (true: no Prometheus sensor), ``take`` (batch size),
    ``fetch_max_wait_ms`` (the consumer's fetch long-poll), ``fetch_min_bytes``, ``stage_us`` (a
    synthetic stage: that many µs of this thread's CPU per message on each process's last hop, where the
    pipeline runs its stage) and ``table_writes`` (that many writes per message to a changelog-backed table
    on the one-partition sequence hop, as the deduplicator's decide makes two)."""
    loaded: dict[str, Any] = json.loads(os.environ.get("BENCH_KNOBS") or "{}")
    return loaded


def services_app(name: str, tried: dict[str, Any]) -> Any:
    """A Faust app made exactly as the services make theirs, with the knobs being tried applied."""
    import faust
    from prometheus_client import CollectorRegistry

    from services.common.settings import CommonSettings
    from services.common.worker import make_app

    class RelaySettings(CommonSettings):
        service: ClassVar[str] = name

    app = make_app(RelaySettings(), CollectorRegistry())
    if tried.pop("no_monitor", False):
        app.monitor = faust.Monitor()
    for attribute in ("fetch_max_wait_ms", "fetch_min_bytes"):  # transport attributes, not app.conf settings
        if attribute in tried:  # (services/common/worker.py)
            setattr(app.transport, attribute, tried.pop(attribute))
    for key, value in tried.items():
        setattr(app.conf, key, value)
    return app


def burn(microseconds: float) -> None:
    """Spend ``microseconds`` of this thread's CPU time (not wall time: other processes do not shorten it)."""
    end = time.thread_time() + microseconds / 1e6
    while time.thread_time() < end:
        pass


def run_faust(name: str, hops: RelayHops) -> None:
    """The Faust relay: one thin agent per hop."""
    tried = knobs()
    if tried.pop("uvloop", False):
        import mode.loop

        mode.loop.use("uvloop")
    import faust

    from services.common.worker import run_worker

    take = int(tried.pop("take", 0))
    stage_us = float(tried.pop("stage_us", 0))
    table_writes = int(tried.pop("table_writes", 0))
    app = services_app(name, tried)

    sized = payloads([dst for _, dst in hops])

    def add_hop(src: str, dst: str, index: int) -> None:
        source = app.topic(src, key_type=bytes, value_type=bytes)
        sink = app.topic(dst, key_type=bytes, value_type=bytes)
        value_for = sized.get(dst, {})
        burns = stage_us > 0 and index == len(hops) - 1  # on the stage's hop (decide, not route); the plain relay never
        # like the deduplicator's decide: a changelog-backed table on the one-partition sequence hop
        table = app.Table(f"relay-{index}", partitions=1, schema=faust.Schema(
            key_serializer="raw", value_serializer="raw")) if table_writes and src.endswith(".seq") else None

        async def relay(stream: faust.StreamT[Any]) -> None:
            async for event in stream.events():
                if burns:
                    burn(stage_us)
                if table is not None:
                    for i in range(table_writes):
                        table[b"%d:%s" % (i, event.key)] = b"x" * 200
                await sink.send(key=event.key, value=value_for.get(event.key, event.value))

        async def relay_batches(stream: faust.StreamT[Any]) -> None:
            # take_events(): the batch's offsets are acked when the next batch is asked for, after every
            # send of this one was awaited, so at-least-once holds.
            async for events in stream.take_events(take, within=0.05):  # type: ignore[attr-defined]
                for event in events:
                    await sink.send(key=event.key, value=value_for.get(event.key, event.value))

        if take:
            relay = relay_batches

        app.agent(source, name=f"relay.{name}.{index}")(relay)

    for i, (src, dst) in enumerate(hops):
        add_hop(src, dst, i)
    run_worker(app, loglevel="WARNING")


async def run_bare(name: str, hops: RelayHops, bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    tried = {k: v for k, v in knobs().items() if k.startswith("producer_")}
    conf = services_app(name, tried).conf  # the services' producer settings (and the knob being tried)
    routes = dict(hops)
    sized = payloads(list(routes.values()))
    consumer = AIOKafkaConsumer(
        *routes, bootstrap_servers=bootstrap, group_id=f"{os.environ.get('RASD_APP_ID_PREFIX', 'rasd')}-{name}",
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all" if conf.producer_acks == -1 else conf.producer_acks,
        linger_ms=int(conf.producer_linger * 1000), max_batch_size=conf.producer_max_batch_size,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            futures = []
            offsets: dict[TopicPartition, int] = {}
            for tp, records in batch.items():
                for r in records:
                    dst = routes[r.topic]
                    value = sized[dst].get(r.key or b"", r.value) if dst in sized else r.value
                    futures.append(await producer.send(dst, value=value, key=r.key))
                offsets[tp] = records[-1].offset + 1
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit(offsets)
    finally:
        await producer.stop()
        await consumer.stop()


def main(argv: list[str]) -> int:
    kind, name, *specs = argv
    hops = parse_hops(specs)
    if kind == "faust":
        run_faust(name, hops)
    elif kind == "bare":
        asyncio.run(run_bare(name, hops, os.environ["RASD_BOOTSTRAP_SERVERS"]))
    else:
        raise SystemExit(f"unknown relay kind {kind!r} (faust | bare)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
