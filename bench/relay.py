"""Do-nothing relays: the two ceilings the pipeline is compared with.

``python -m bench.relay faust NAME SRC:DST [SRC:DST …]`` — a Faust worker built by the services' own
:func:`services.common.worker.make_app` (same client settings: acks=-1, commit every/interval, raw
bytes, the Prometheus sensor) with one thin agent per hop that only forwards ``event.key`` /
``event.value`` — the same loop as :func:`services.common.worker.attach_stage` minus the stage.

``python -m bench.relay bare NAME SRC:DST [SRC:DST …]`` — plain aiokafka: one consumer group
(manual commits) and one producer (acks=all, the same linger and batch size as Faust's producer);
it forwards each fetched batch, waits for the broker's acks and only then commits the batch's
offsets (at-least-once, like Faust).

Each process relays one hop, as each service does since the deduplicator reads ``articles.normalized``
directly (its one-partition ``sequence`` hop went 2026-12-08).

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
from collections.abc import Container
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from schemas.codec import decode, encode
from schemas.models import TOPIC_MODELS

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
    pipeline runs its stage), ``table_writes`` (that many writes per message to a changelog-backed table
    on the deduplicator's one-partition hop, as its stage makes two) and ``edge`` (topic → the
    role of its messages in :data:`schemas.models.TOPIC_MODELS`: :class:`ContractEdge` on each stage hop)."""
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


class ContractEdge:
    """What every stage pays at its edges, with no stage logic: decode the message into the stage's input
    model and encode the model the stage emits (:mod:`schemas.codec`), as :func:`services.common.stage.process_message`
    does.  On the relay's stage hop it measures the ratio a pipeline of infinitely fast cores would get.

    Only messages the pipeline's stage would decode are decoded (``decoded_keys``: the keys with a payload of
    the input's role; ``None`` for raw articles, which all are) — warm-up articles and, at the alerter, copies
    carry a forwarded payload of another type.  ``output_models`` are the stage's messages for each key,
    decoded once at start-up, so each message costs one encode like the stage's.
    """

    def __init__(self, input_model: type[BaseModel], output_models: dict[bytes, BaseModel],
                 decoded_keys: Container[bytes] | None) -> None:
        self.input_model = input_model
        self.output_models = output_models
        self.decoded_keys = decoded_keys

    @classmethod
    def for_hop(cls, roles: dict[str, str], src: str, dst: str,
                sized: dict[str, dict[bytes, bytes]]) -> ContractEdge | None:
        """The edge of the stage hop ``src → dst`` (``None`` when ``src`` has no role: no edge asked for)."""
        if src not in roles:
            return None
        outputs = {key: decode(value, TOPIC_MODELS[roles[dst]]) for key, value in sized.get(dst, {}).items()
                   } if dst in roles else {}
        keys = sized.get(src, {}).keys() if roles[src] != "raw" else None
        return cls(TOPIC_MODELS[roles[src]], outputs, keys)

    def __call__(self, key: bytes, value: bytes) -> int:
        """Decode and encode as the stage would for this message; the number of codec calls made."""
        calls = 0
        if self.decoded_keys is None or key in self.decoded_keys:
            decode(value, self.input_model)
            calls += 1
        model = self.output_models.get(key)
        if model is not None:
            encode(model)
            calls += 1
        return calls


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
    roles: dict[str, str] = tried.pop("edge", None) or {}
    app = services_app(name, tried)

    sized = payloads([dst for _, dst in hops] + [src for src, _ in hops if src in roles])

    def add_hop(src: str, dst: str, index: int) -> None:
        source = app.topic(src, key_type=bytes, value_type=bytes)
        sink = app.topic(dst, key_type=bytes, value_type=bytes)
        value_for = sized.get(dst, {})
        stage_hop = index == len(hops) - 1  # the stage runs on a process's last hop
        burns = stage_us > 0 and stage_hop  # the plain relay never calls burn
        edge = ContractEdge.for_hop(roles, src, dst, sized) if stage_hop else None
        # like the deduplicator: a changelog-backed table on its one-partition hop
        table = app.Table(f"relay-{index}", partitions=1, schema=faust.Schema(
            key_serializer="raw", value_serializer="raw")) if table_writes and name == "relay-deduplicator" else None

        async def relay(stream: faust.StreamT[Any]) -> None:
            async for event in stream.events():
                if burns:
                    burn(stage_us)
                if edge is not None:
                    edge(event.key, event.value)
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
