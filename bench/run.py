"""``make bench``: the pipeline, its two ceilings, latency under load, core speeds and scale-out.

Everything runs on the project's own broker (:class:`rasd.kafka_local.LocalKafka`, Apache Kafka
4.4.0) started for the run; every scenario gets its own topics and consumer groups.  See
``docs/performance.md`` for what is measured and how to read it.  Writes ``bench/results/latest.json``
and ``bench/results/latest.png``.

    python -m bench.run                 # full run (N=3000 by default, ~6-8 min on 2 cores)
    python -m bench.run --quick         # small smoke run (N=400)
    BENCH_N=2000 python -m bench.run    # choose N
    python -m bench.run --knobs         # also measure each Faust knob on the Faust relay
    python -m bench.run --profile       # also py-spy a worker during the saturation run
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import pickle
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from rasd.kafka_local import KAFKA_VERSION, LocalKafka, create_topics
from rasd.offline import OfflinePipeline
from rasd.runner import WorkerProcess, Workers
from schemas.codec import article_id_of
from schemas.topics import Topics
from services.common.settings import SERVICES

from . import cores
from .articles import Expected, article_key, expected, generate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PARTITIONS = 4
WARMUP = 40
LOAD_SHARES = (0.2, 0.4, 0.6, 0.8)  # offered load, as shares of the saturation rate, for the latency curve
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
    }


def versions() -> dict[str, str]:
    import aiokafka
    import faust

    return {"python": platform.python_version(), "faust": faust.__version__, "aiokafka": aiokafka.__version__,
            "kafka": KAFKA_VERSION}


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds user+system, peak RSS MB from VmHWM) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    hwm = re.search(r"VmHWM:\s*(\d+)", Path(f"/proc/{pid}/status").read_text())
    return cpu, (int(hwm.group(1)) / 1024 if hwm else 0.0)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]  # not guest (in user)
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(ordered)}


def sustained(times: list[float], lo: float = 0.1, hi: float = 0.9) -> tuple[float, int, int, float, float]:
    """Completions per second between the ``lo`` and ``hi`` quantiles of completion times.

    Returns (rate, i, j, t_i, t_j): the i-th and j-th completions (0-based) and their times, so that the
    metrics can be read over the same span of work.
    """
    ordered = sorted(times)
    n = len(ordered)
    i, j = int(lo * n), max(int(hi * n) - 1, int(lo * n) + 1)
    span = ordered[j] - ordered[i]
    return ((j - i) / span if span > 0 else float("nan")), i, j, ordered[i], ordered[j]


def scenario_env(data_dir: Path) -> tuple[dict[str, str], Topics]:
    """Own topics, consumer groups and state directory for one scenario."""
    run = "b" + uuid.uuid4().hex[:8]
    names = {f: f"{run}.{f}" for f in Topics.model_fields}
    env = {f"RASD_TOPIC_{f.upper()}": n for f, n in names.items()}
    env |= {"RASD_APP_ID_PREFIX": run, "RASD_DATA_DIR": str(data_dir / run), "RASD_PARTITIONS": str(PARTITIONS)}
    return env, Topics.model_validate(names)


# ------------------------------------------------------------------------------------ kafka edges


async def publish(bootstrap: str, topic: str, raws: list[bytes], rate: float | None = None) -> dict[bytes, float]:
    """Publish ``raws`` keyed by article id (as fast as possible, or at ``rate``/s); returns key → send time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0 if rate else 5,
                                max_batch_size=16384 if rate else 262144)
    await producer.start()
    sent: dict[bytes, float] = {}
    try:
        futures = []
        start = time.time()
        for i, raw in enumerate(raws):
            if rate:
                delay = start + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            key = article_key(raw)
            now = time.time()
            sent[key] = now
            futures.append(await producer.send(topic, value=raw, key=key, timestamp_ms=int(now * 1000)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


_ID_HEAD = b'{"id":"'


class Collector:
    """Reads the given topics from their current end; keeps key → record timestamp (s) per topic."""

    def __init__(self, bootstrap: str, topics: list[str], by_article_id: tuple[str, ...] = (),
                 progress: tuple[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.by_article_id = by_article_id  # topics keyed otherwise (alerts: by story): use the value's article_id
        self.seen: dict[str, dict[bytes, float]] = {t: {} for t in topics}
        self.records: dict[str, int] = dict.fromkeys(topics, 0)  # every record, repeats included
        # (group, topic): a consumer group whose work leaves no record (the alerter's decisions on articles
        # that raise nothing) is followed by its committed offsets on ``topic`` — (time, sum) samples.
        self.progress_of = progress
        self.progress: list[tuple[float, int]] = []
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                                     group_id=None, fetch_max_bytes=16 * 1024 * 1024)
        await consumer.start()
        tps = []
        for topic in self.topics:
            for _ in range(50):
                parts = consumer.partitions_for_topic(topic)
                if parts:
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
            tps += [TopicPartition(topic, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        if self.progress_of is not None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await self._admin.start()
            await self._sample_progress()

    async def _sample_progress(self) -> None:
        assert self._admin is not None and self.progress_of is not None
        group, topic = self.progress_of
        t = time.time()
        offsets = await self._admin.list_consumer_group_offsets(group)
        committed = sum(max(0, o.offset) for tp, o in offsets.items() if tp.topic == topic)
        self.progress.append(((t + time.time()) / 2, committed))

    def progressed(self) -> int:
        """Records the followed group committed since :meth:`start`."""
        return self.progress[-1][1] - self.progress[0][1] if self.progress else 0

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        assert self._consumer is not None
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            if self._admin is not None and time.time() - self.progress[-1][0] > 0.2:
                await self._sample_progress()
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    key = r.key or b""
                    if r.topic in self.by_article_id:
                        key = str(orjson.loads(r.value or b"{}").get("article_id", "")).encode()
                    elif (value := r.value or b"").startswith(_ID_HEAD):  # an article: unique and enriched are
                        key = (article_id_of(value) or "").encode() or key  # keyed by story, so read its id
                    self.seen[r.topic].setdefault(key, r.timestamp / 1000)
                    self.records[r.topic] += 1
        return True

    async def stop(self) -> None:
        if self._admin is not None:
            await self._sample_progress()
            await self._admin.close()
        if self._consumer is not None:
            await self._consumer.stop()


# ---------------------------------------------------------------------------------------- metrics


_COUNTER = re.compile(r'^rasd_messages_(consumed|produced)_total\{service="(\w+)",topic="(\w+)"\} ([0-9.e+]+)$', re.M)
_PROCESSING = re.compile(r'^rasd_processing_seconds_(sum|count)\{service="(\w+)"\} ([0-9.e+-]+)$', re.M)
_STAGE_CPU = re.compile(r'^rasd_processing_cpu_seconds_total\{service="(\w+)"\} ([0-9.e+-]+)$', re.M)
_PROCESS_CPU = re.compile(r'^process_cpu_seconds_total ([0-9.e+-]+)$', re.M)


class MetricsSampler(threading.Thread):
    """Reads every worker's /metrics page every ``period`` s: (time, {(kind, service, topic): value summed})."""

    def __init__(self, procs: list[WorkerProcess], period: float = 1.0) -> None:
        # Not faster: rendering /metrics costs the worker CPU (at 0.2 s it was ~6 % of a busy normalizer's).
        super().__init__(daemon=True)
        self.procs, self.period = procs, period
        self.samples: list[tuple[float, dict[tuple[str, str, str], float]]] = []
        self._halt = threading.Event()

    def snapshot(self) -> dict[tuple[str, str, str], float]:
        values: dict[tuple[str, str, str], float] = {}

        def add(key: tuple[str, str, str], value: str) -> None:
            values[key] = values.get(key, 0.0) + float(value)  # summed over a service's workers

        for proc in self.procs:
            text = proc.metrics_text() or ""
            for kind, service, topic, value in _COUNTER.findall(text):
                add((kind, service, topic), value)
            for kind, service, value in _PROCESSING.findall(text):  # the stage's own time, inside the worker
                add((f"processing_{kind}", service, ""), value)
            for service, value in _STAGE_CPU.findall(text):  # the stage's own CPU, inside the worker
                add(("processing_cpu", service, ""), value)
            for value in _PROCESS_CPU.findall(text):  # the whole worker's CPU
                add(("process_cpu", proc.service, ""), value)
        return values

    def run(self) -> None:
        while not self._halt.is_set():
            t = time.time()
            values = self.snapshot()
            self.samples.append(((t + time.time()) / 2, values))  # the reads take a while on a busy machine
            self._halt.wait(max(0.0, self.period - (time.time() - t)))

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.samples.append((time.time(), self.snapshot()))


def completed(sample: dict[tuple[str, str, str], float]) -> float:
    """Articles done according to the metrics ops watch: consumed by the alerter + sent to duplicates."""
    return sample.get(("consumed", "alerter", "enriched"), 0.0) + sample.get(("produced", "deduplicator",
                                                                               "duplicates"), 0.0)


def progress_times(samples: list[tuple[float, int]]) -> list[float]:
    """From (time, committed) samples: the (interpolated) time each of the 1st…last records was committed."""
    if not samples:
        return []
    base = samples[0][1]
    series = [(t, float(c - base)) for t, c in samples]
    return [crossing(series, k) for k in range(1, int(series[-1][1]) + 1)]


def crossing(samples: list[tuple[float, float]], target: float) -> float:
    """The time a counter reached ``target`` (linear interpolation between samples)."""
    for (t0, c0), (t1, c1) in itertools.pairwise(samples):
        if c0 < target <= c1:
            return t0 + (t1 - t0) * (target - c0) / (c1 - c0)
    return float("nan")


# ---------------------------------------------------------------------------------------- scenarios


@dataclass
class Chain:
    """Worker processes of one scenario and how to stop them."""

    procs: list[Any] = field(default_factory=list)

    def pids(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for name, proc in self.procs:
            out.setdefault(name, []).append(proc.pid)
        return out

    def stats(self) -> dict[str, tuple[float, float]]:
        """Per name: (CPU s summed over replicas, peak RSS MB, the largest replica)."""
        out: dict[str, tuple[float, float]] = {}
        for name, pids in self.pids().items():
            got = [proc_stats(p) for p in pids]
            out[name] = (sum(c for c, _ in got), max(h for _, h in got))
        return out


async def wait_through(bootstrap: str, src: str, outs: list[str], raws: list[bytes], timeout: float) -> None:
    """Publish ``raws`` and wait until every key is on one of ``outs`` (warm-up: groups assigned, code hot)."""
    col = Collector(bootstrap, outs)
    await col.start()
    sent = await publish(bootstrap, src, raws)
    try:
        ok = await col.until(lambda: all(any(k in col.seen[t] for t in outs) for k in sent), timeout)
    finally:
        await col.stop()
    if not ok:
        raise TimeoutError(f"warm-up: {sum(any(k in col.seen[t] for t in outs) for k in sent)}/{len(sent)} through")


def hop_payloads(raws: list[bytes]) -> dict[str, dict[bytes, bytes]]:
    """What the pipeline sends for each article (by its raw key) on ``normalized``, ``unique`` and ``enriched``
    (a copy: its ``duplicates`` message as ``unique``, nothing later), from one offline run of the cores."""
    pipeline = OfflinePipeline()
    out: dict[str, dict[bytes, bytes]] = {"normalized": {}, "unique": {}, "enriched": {}}
    for raw in raws:
        emitted = pipeline.run(raw)
        key = article_key(raw)
        for role, topic in (("normalized", "normalized"), ("unique", "unique"), ("unique", "duplicates"),
                            ("enriched", "enriched")):
            if topic in emitted:
                out[role][key] = emitted[topic][0].value
    return out


# Kafka hops from articles.raw to alerts: the stages' four (the deduplicator's sequence hop went 2026-12-08).
HOPS = 4


def run_relays(kind: str, bootstrap: str, raws: list[bytes], warm: list[bytes], work: Path,
               knobs: dict[str, Any] | None = None, repeats: int = 1,
               payloads: dict[str, dict[bytes, bytes]] | None = None, rate: float | None = None) -> dict[str, Any]:
    """A chain of do-nothing relays with the pipeline's hops: 4 processes, 4 hops (one 1-partition topic).

    The hops mirror the services': the normalizer writes every article to one partition of ``normalized``
    (here a one-partition topic), which the deduplicator reads directly; the alerter reads ``articles.enriched``
    directly (keyed by story upstream).

    The backlog is pushed through ``repeats`` times (the same relay processes); the median run is returned.
    With ``payloads`` (:func:`hop_payloads`) each hop sends the pipeline's message for that hop (same payloads).
    With ``rate`` the articles are offered at that rate instead of as a backlog.
    """
    env, _ = scenario_env(work)
    prefix = env["RASD_APP_ID_PREFIX"]
    t = [f"{prefix}.r{i}" for i in range(5)]
    asyncio.run(create_topics(bootstrap, [t[0], *t[2:]], PARTITIONS))
    asyncio.run(create_topics(bootstrap, [t[1]], 1))
    layout = [("normalizer", [f"{t[0]}:{t[1]}"]), ("deduplicator", [f"{t[1]}:{t[2]}"]),
              ("entities", [f"{t[2]}:{t[3]}"]), ("alerter", [f"{t[3]}:{t[4]}"])]
    roles = {t[1]: "normalized", t[2]: "unique", t[3]: "enriched", t[4]: "enriched"}
    if (knobs or {}).get("edge"):  # the stages' input and output models (the alerter's output is alerts: none)
        knobs = {**(knobs or {}), "edge": {t[0]: "raw", **{k: v for k, v in roles.items() if k != t[4]}}}
    full_env = {**os.environ, **env, "RASD_BOOTSTRAP_SERVERS": bootstrap, "BENCH_KNOBS": json.dumps(knobs or {})}
    if payloads is not None:
        sized = work / f"payloads-{prefix}"
        sized.mkdir(parents=True, exist_ok=True)
        for topic, role in roles.items():
            (sized / f"{topic}.pickle").write_bytes(pickle.dumps(payloads[role]))
        full_env["BENCH_PAYLOADS"] = str(sized)
    if (knobs or {}).get("NO_CYTHON"):
        full_env["NO_CYTHON"] = "1"
        full_env["BENCH_KNOBS"] = json.dumps({k: v for k, v in (knobs or {}).items() if k != "NO_CYTHON"})
    chain = Chain()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        for name, hops in layout:
            log = (logs / f"{prefix}-{kind}-{name}.log").open("ab")
            cmd = [sys.executable, "-m", "bench.relay", kind, f"relay-{name}", *hops]
            chain.procs.append((name, subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=log, stderr=log)))
        asyncio.run(wait_through(bootstrap, t[0], [t[4]], warm, timeout=120))
        runs = [measure_chain(bootstrap, t[0], raws, chain, lambda col: len(col.seen[t[4]]) >= len(raws), [t[4]],
                              completion=lambda col: list(col.seen[t[4]].values()), rate=rate)
                for _ in range(repeats)]
        return median_run(runs)
    finally:
        for _, proc in chain.procs:
            proc.terminate()
        for _, proc in chain.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate under ``per_s_runs`` (noise is ±30 % on 2 cores)."""
    ranked = sorted(runs, key=lambda r: r["per_s"])
    return ranked[(len(ranked) - 1) // 2] | {"per_s_runs": [r["per_s"] for r in runs],
                                             "cpu_s_runs": [r["cpu_s"] for r in runs]}


def measure_chain(bootstrap: str, src: str, raws: list[bytes], chain: Chain, done: Callable[[Collector], bool],
                  outs: list[str], completion: Callable[[Collector], list[float]],
                  sampler: MetricsSampler | None = None, by_article_id: tuple[str, ...] = (),
                  progress: tuple[str, str] | None = None, rate: float | None = None) -> dict[str, Any]:
    """Publish all of ``raws`` at once (a backlog; or at ``rate``/s) and time the chain until ``done``."""
    before = chain.stats()
    busy0, total0 = machine_ticks()
    own0 = time.process_time()

    async def go() -> tuple[Collector, dict[bytes, float], bool]:
        col = Collector(bootstrap, outs, by_article_id, progress)
        await col.start()
        try:
            if sampler is not None:
                sampler.start()
            sent = await publish(bootstrap, src, raws, rate)
            ok = await col.until(lambda: done(col), 60 + len(raws) / 10)  # fails below 10 articles/s
        finally:
            if sampler is not None:
                sampler.stop()
            await col.stop()
        return col, sent, ok

    col, sent, ok = asyncio.run(go())
    after = chain.stats()
    busy1, total1 = machine_ticks()
    own = time.process_time() - own0
    times = completion(col)
    rate, i, j, ti, tj = sustained(times)
    first = min(sent.values())
    out: dict[str, Any] = {
        "articles": len(raws),
        "completed": len(times),
        "complete": ok,
        "per_s": round(rate, 1),
        "per_s_overall": round(len(times) / (max(times) - first), 1) if times else None,
        "publish_s": round(max(sent.values()) - first, 2),
        "cpu_s": {n: round(after[n][0] - before[n][0], 2) for n in after},
        "peak_rss_mb": {n: round(after[n][1], 1) for n in after},
        # How busy the whole machine (workers, broker, this process) was: 1.0 = every core all the time.
        "machine_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        "bench_process_cpu_s": round(own, 2),
        "_span": (i, j, ti, tj),
        "_collector": col,
    }
    return out


def run_pipeline(bootstrap: str, raws: list[bytes], exp: Expected, warm: list[bytes], work: Path, *,
                 replicas: int = 1, latency_s: float = 0.0, profile: Path | None = None,
                 repeats: int = 1) -> dict[str, Any]:
    """The four services as workers (``replicas`` of each), saturated with a backlog, then at fixed rates.

    The first backlog (``raws``) is also read from the services' own metrics and counted; ``repeats - 1``
    more backlogs of new articles follow, and ``per_s`` is the median of all.
    """
    env, topics = scenario_env(work)
    asyncio.run(create_topics(bootstrap, [topics.raw, topics.normalized, topics.unique, topics.duplicates,
                                          topics.enriched, topics.alerts, topics.dlq], PARTITIONS))
    workers = Workers(bootstrap, log_dir=work / "logs" / env["RASD_APP_ID_PREFIX"], services=(), extra_env=env)
    chain = Chain()
    try:
        for service in SERVICES:
            for r in range(replicas):
                proc = workers.add(service, metrics_port=free_port(), tag=f"-{r}" if replicas > 1 else "")
                chain.procs.append((service, proc.proc))
        workers.wait_ready(timeout=180)
        outs = [topics.enriched, topics.duplicates, topics.alerts, topics.dlq]
        asyncio.run(wait_through(bootstrap, topics.raw, outs[:2], warm, timeout=180))
        time.sleep(1.5)  # the warm-up's last alerts and commits, so that the baselines below include them
        alerter_progress = (f"{env['RASD_APP_ID_PREFIX']}-alerter", topics.enriched)
        if replicas > 1:
            time.sleep(5)  # let late joiners finish their rebalance before the clock starts
        sampler = MetricsSampler(workers.procs)
        base_snapshot = sampler.snapshot()
        base = completed(base_snapshot)

        def done_when(exp: Expected) -> Callable[[Collector], bool]:
            through: list[float] = []

            def done(col: Collector) -> bool:
                """Every article on duplicates or decided by the alerter, and every expected alert (or 3 s more)."""
                if col.progressed() < exp.unique or len(col.seen[topics.duplicates]) < exp.duplicates:
                    return False
                through.append(time.monotonic())
                return len(col.seen[topics.alerts]) >= exp.alerts or through[-1] - through[0] > 3

            return done

        def completion(col: Collector) -> list[float]:
            """When each article was done: a copy when it reached duplicates, an original when the alerter had
            committed its decision (the alerter emits nothing for most articles; it commits an offset only
            after the alert it sent, if any, was acknowledged)."""
            return [*col.seen[topics.duplicates].values(), *progress_times(col.progress)]

        py_spy = None
        if profile is not None:
            target = next(p for s, p in chain.procs if s == profile.stem.split("-")[-1])
            py_spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                                       str(target.pid), "--rate", "200", "--format", "raw", "--duration", "15",
                                       "--nonblocking", "--output", str(profile)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = measure_chain(bootstrap, topics.raw, raws, chain, done_when(exp), outs, completion, sampler,
                               (topics.alerts,), alerter_progress)
        if py_spy is not None:
            py_spy.wait(60)
        col: Collector = result.pop("_collector")
        i, j, _, _ = result.pop("_span")
        series = [(t, completed(s) - base) for t, s in sampler.samples]
        # Where the backlog sits: each service's consumed messages (per topic) every second, from /metrics.
        t0 = sampler.samples[0][0]
        result["stage_progress"] = [
            [round(t - t0, 1), {f"{svc}.{topic}": int(v - base_snapshot.get((kind, svc, topic), 0))
                                for (kind, svc, topic), v in sorted(sample.items()) if kind == "consumed"}]
            for t, sample in sampler.samples]
        m_rate = (j - i) / (crossing(series, j + 1) - crossing(series, i + 1))
        final = sampler.samples[-1][1]
        result["counts"] = {
            "bench": {"unique": len(col.seen[topics.enriched]), "duplicates": len(col.seen[topics.duplicates]),
                      "alerts": len(col.seen[topics.alerts]), "dlq": len(col.seen[topics.dlq]),
                      "alert_messages": col.records[topics.alerts]},  # > alerts: an article alerted twice
            "expected_offline": {"unique": exp.unique, "duplicates": exp.duplicates, "alerts": exp.alerts},
            "metrics": {k: int(final.get(v, 0) - base_snapshot.get(v, 0)) for k, v in {
                "normalizer_consumed": ("consumed", "normalizer", "raw"),
                "alerter_consumed": ("consumed", "alerter", "enriched"),
                "dedup_duplicates": ("produced", "deduplicator", "duplicates"),
                "entities_produced": ("produced", "entities", "enriched"),
                "alerts_produced": ("produced", "alerter", "alerts")}.items()},
        }
        result["metrics_per_s"] = round(m_rate, 1)
        # Microseconds per message in the stage (decode → core → encode) inside the running worker, to compare
        # with the same stage alone (cores_per_s) and with the worker's whole CPU per message.
        def grew(kind: str, svc: str) -> float:
            return final.get((kind, svc, ""), 0.0) - base_snapshot.get((kind, svc, ""), 0.0)

        result["stage_us_per_message"] = {
            svc: round(1e6 * grew("processing_sum", svc) / max(1.0, grew("processing_count", svc)), 1)
            for svc in SERVICES}
        # The same in CPU time (rasd_processing_cpu_seconds_total: no time lost to other processes), and the stage's
        # share of its worker's CPU (process_cpu_seconds_total): what is left is Faust, aiokafka and the endpoint.
        result["stage_cpu_us_per_message"] = {
            svc: round(1e6 * grew("processing_cpu", svc) / max(1.0, grew("processing_count", svc)), 1)
            for svc in SERVICES}
        result["stage_cpu_share"] = {
            svc: round(grew("processing_cpu", svc) / max(1e-9, grew("process_cpu", svc)), 3) for svc in SERVICES}
        result["metrics_vs_bench"] = round(m_rate / result["per_s"], 3)
        result["throughput_series"] = _series(sorted(completion(col)))
        # More backlogs of new articles (other seeds: new ids, new stories) through the same workers.
        rates, cpus = [result["per_s"]], [result["cpu_s"]]
        for k in range(1, repeats):
            more = generate(len(raws), seed=100 + k, prefix=f"rep{k}")
            again = measure_chain(bootstrap, topics.raw, more, chain, done_when(expected(more)), outs, completion,
                                  by_article_id=(topics.alerts,), progress=alerter_progress)
            rates.append(again["per_s"])
            cpus.append(again["cpu_s"])
        result["per_s_runs"] = rates
        result["cpu_s_runs"] = cpus
        result["per_s_first"] = result["per_s"]
        result["per_s"] = sorted(rates)[(len(rates) - 1) // 2]
        if latency_s:
            # Offered at shares of the (median) saturation rate just measured; new articles (new ids).
            result["latency"] = []
            for share in LOAD_SHARES:
                rate = share * result["per_s"]
                lat_raws = generate(max(20, int(rate * latency_s)), seed=int(share * 100), prefix=f"lat{share}")
                result["latency"].append(run_rate(bootstrap, topics, rate, lat_raws) | {"share": share})
        after = chain.stats()
        result["peak_rss_mb"] = {n: round(after[n][1], 1) for n in after}
        return result
    finally:
        workers.stop()


def _series(times: list[float], step: float = 0.5) -> list[tuple[float, float]]:
    """(seconds since the first completion, completions/s over the last ``step`` s) for the plot."""
    if not times:
        return []
    out, t0, k = [], times[0], 0
    edge = t0 + step
    while k < len(times):
        n = 0
        while k < len(times) and times[k] < edge:
            n, k = n + 1, k + 1
        out.append((round(edge - t0, 2), round(n / step, 1)))
        edge += step
    return out


def run_rate(bootstrap: str, topics: Topics, rate: float, raws: list[bytes]) -> dict[str, Any]:
    """Publish ``raws`` at ``rate``/s into the running pipeline; latency = send → alert (and → last record)."""
    outs = [topics.enriched, topics.duplicates, topics.alerts]

    async def go() -> tuple[Collector, dict[bytes, float]]:
        col = Collector(bootstrap, outs, (topics.alerts,))
        await col.start()
        try:
            sent = await publish(bootstrap, topics.raw, raws, rate=rate)
            await col.until(lambda: all(k in col.seen[outs[0]] or k in col.seen[outs[1]] for k in sent), 300)
            await col.until(lambda: False, 1.5)  # alerts of the last articles
        finally:
            await col.stop()
        return col, sent

    col, sent = asyncio.run(go())
    alerts = col.seen[topics.alerts]
    to_alert = [(alerts[k] - t) * 1000 for k, t in sent.items() if k in alerts]
    last = {k: max(col.seen[topics.enriched].get(k, 0.0), col.seen[topics.duplicates].get(k, 0.0), alerts.get(k, 0.0))
            for k in sent}
    return {"offered_per_s": round(rate, 1), "articles": len(raws), "alert_ms": percentiles(to_alert),
            "last_record_ms": percentiles([(last[k] - t) * 1000 for k, t in sent.items() if last[k]])}


# ----------------------------------------------------------------------------------------------- main


KNOBS: list[tuple[str, dict[str, Any]]] = [  # each against make_app's settings (the baseline)
    ("Faust's producer defaults (linger 0, 16 KiB batches)",
     {"producer_linger": 0.0, "producer_max_batch_size": 16384}),
    ("Faust's fetch long-poll (1500 ms)", {"fetch_max_wait_ms": 1500}),
    ("fetch_min_bytes 64 KiB (the broker holds a fetch up to the 100 ms long-poll)", {"fetch_min_bytes": 65536}),
    ("Faust's consumer_max_fetch_size (1 MiB)", {"consumer_max_fetch_size": 1024 * 1024}),
    ("stream_buffer_maxsize=16384", {"stream_buffer_maxsize": 16384}),
    ("broker_commit_every=10000, interval=2.8s (faust defaults)",
     {"broker_commit_every": 10000, "broker_commit_interval": 2.8}),
    ("uvloop", {"uvloop": True}),
    ("no Prometheus sensor", {"no_monitor": True}),
    ("take_events(100, within=50ms)", {"take": 100}),
    ("without cython (NO_CYTHON=1)", {"NO_CYTHON": True}),
]


STAGE_COSTS = [50.0, 100.0, 150.0, 300.0, 500.0]  # µs of CPU per message for the synthetic stage (--knobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small, fast run (N=400)")
    parser.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", "0")) or None)
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument("--no-scaleout", action="store_true")
    parser.add_argument("--repeat", type=int, default=None,
                        help="backlog runs per chain, the median is reported (default 3; 1 with --quick)")
    parser.add_argument("--knobs", action="store_true", help="measure each Faust knob on the Faust relay")
    parser.add_argument("--stage-cost", default="",
                        help="comma-separated µs: the Faust relay with a synthetic stage of that CPU cost per "
                             "message on each process's stage hop (ratio such a stage allows; --knobs: 50,...,500)")
    parser.add_argument("--edge", action="store_true",
                        help="the Faust relay paying the stages' contract edge (decode input model, encode output) "
                             "on each stage hop: the ratio of infinitely fast cores (also with --knobs)")
    parser.add_argument("--profile", default="", help="py-spy this service during the saturation run")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    n = args.n or (400 if args.quick else 3000)
    lat_s = args.latency_seconds or (4.0 if args.quick else 10.0)
    repeats = args.repeat or (1 if args.quick else 3)
    started = time.time()
    result: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "n": n, "repeats": repeats,
                              "partitions": PARTITIONS, "hops": HOPS,
                              "machine": machine() | {"loadavg_before": loadavg()}, "versions": versions()}
    work = Path(os.environ.get("BENCH_WORK", "/tmp")) / f"rasd-bench-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"[bench] N={n}; generating articles; work dir {work}", flush=True)
    raws = generate(n)
    exp = expected(raws)
    warm = generate(WARMUP, seed=99, prefix="warm")
    result["articles"] = {"mean_bytes": round(sum(map(len, raws)) / n), "unique": exp.unique,
                          "near_copies": exp.duplicates, "alerting": exp.alerts}
    print(f"[bench] {result['articles']}; core speeds", flush=True)
    result["cores_per_s"] = cores.measure(raws=raws[:2000])
    print(f"[bench] cores (whole message / logic alone): "
          f"{ {k: (v['per_s_cpu'], v['logic_per_s_cpu']) for k, v in result['cores_per_s'].items()} }", flush=True)

    with LocalKafka(log_file=work / "broker.log") as kafka:
        bootstrap = kafka.bootstrap_servers
        sized = hop_payloads(raws)
        for kind in ("bare", "faust"):
            r = run_relays(kind, bootstrap, raws, warm, work, repeats=repeats, payloads=sized)
            r.pop("_collector"), r.pop("_span")
            result[f"{kind}_relay"] = r
            print(f"[bench] {kind} relay: {r['per_s']}/s (runs {r['per_s_runs']})", flush=True)
        if args.knobs:
            base = result["faust_relay"]["per_s"]
            result["knobs"] = []
            for label, knob in KNOBS:
                r = run_relays("faust", bootstrap, raws, warm, work, knobs=knob, payloads=sized)
                per_s = r["per_s"]
                result["knobs"].append({"knob": label, "settings": knob, "faust_relay_per_s": per_s,
                                        "ratio_vs_baseline": round(per_s / base, 3)})
                print(f"[bench] knob {label}: {per_s}/s ({per_s / base:.2f}x)", flush=True)
        sweep = [float(x) for x in args.stage_cost.split(",") if x] or (STAGE_COSTS if args.knobs else [])
        if sweep:
            result["stage_cost_sweep"] = stage_cost_sweep(bootstrap, raws, warm, work, sized, sweep,
                                                          result["faust_relay"])
        if args.edge or args.knobs:
            result["contract_edge_relay"] = contract_edge_relay(bootstrap, raws, warm, work, sized,
                                                                result["faust_relay"])
        profile = RESULTS / f"profile-{args.profile}.txt" if args.profile else None
        pipe = run_pipeline(bootstrap, raws, exp, warm, work, latency_s=lat_s, profile=profile, repeats=repeats)
        sat = pipe["per_s"]
        result["pipeline"] = pipe
        print(f"[bench] pipeline: {sat}/s (runs {pipe['per_s_runs']}; metrics {pipe['metrics_per_s']}/s "
              f"vs {pipe['per_s_first']}/s in the first run)", flush=True)
        if not args.quick:
            # The relay's CPU per message at the pipeline's rate, not at its own: per-message framework costs grow
            # as batches shrink, so this is the framework's share of the pipeline's CPU per article.
            paced = run_relays("faust", bootstrap, raws, warm, work, payloads=sized, rate=sat)
            result["faust_relay_at_pipeline_rate"] = {
                "offered_per_s": sat, "per_s": paced["per_s"], "complete": paced["complete"],
                "cpu_s": paced["cpu_s"], "machine_busy": paced["machine_busy"]}
            print(f"[bench] faust relay offered {sat}/s: CPU {paced['cpu_s']}", flush=True)
        if not args.no_scaleout:
            print("[bench] scale-out: 2 workers of each service", flush=True)
            two = run_pipeline(bootstrap, raws, exp, warm, work, replicas=2, repeats=repeats)
            result["scaleout"] = {"workers_per_service": 2, "partitions": PARTITIONS, "per_s": two["per_s"],
                                  "one_worker_per_s": sat, "ratio": round(two["per_s"] / sat, 3),
                                  "cpu_s": two["cpu_s"], "complete": two["complete"]}
    summarise(result, sat)
    result["machine"]["loadavg_after"] = loadavg()
    result["bench_seconds"] = round(time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    try:
        from .plot import plot

        plot(result, args.out.with_suffix(".png"))
    except ImportError as exc:
        print(f"[bench] no plot ({exc}); `pip install -e '.[bench]'`", flush=True)
    print(json.dumps({k: result[k] for k in ("pipeline_articles_per_s", "faust_relay_per_s", "bare_relay_per_s",
                                             "ratio", "ratio_range", "framework_tax", "framework_tax_cpu",
                                             "cpu_vs_relay_at_pipeline_rate", "worker_cpu_ms_per_article",
                                             "worker_cpu_ms_per_article_range", "latency_ms", "metrics_vs_bench")
                      if k in result}, indent=2))
    print(f"[bench] wrote {args.out} in {result['bench_seconds']} s", flush=True)
    return 0


def stage_cost_sweep(bootstrap: str, raws: list[bytes], warm: list[bytes], work: Path,
                     sized: dict[str, dict[bytes, bytes]], costs: list[float],
                     relay: dict[str, Any]) -> list[dict[str, Any]]:
    """The Faust relay with a synthetic stage of each cost (µs of CPU per message on each process's stage hop).

    ``ratio_vs_relay`` is what the target's ratio would be for a pipeline whose four stages cost that much and
    nothing else: the ceiling a stage of that cost allows on this machine, framework included.
    """
    base = relay["per_s"]
    out = []
    for cost in costs:
        r = run_relays("faust", bootstrap, raws, warm, work, knobs={"stage_us": cost}, payloads=sized)
        cpu_ms = round(1000 * sum(r["cpu_s"].values()) / len(raws), 2)
        out.append({"stage_us": cost, "faust_relay_per_s": r["per_s"], "ratio_vs_relay": round(r["per_s"] / base, 3),
                    "worker_cpu_ms_per_message": cpu_ms, "machine_busy": r["machine_busy"]})
        print(f"[bench] synthetic stage {cost:.0f} µs: {r['per_s']}/s ({r['per_s'] / base:.2f}x the relay; "
              f"{cpu_ms} ms CPU per message)", flush=True)
    return out


def contract_edge_relay(bootstrap: str, raws: list[bytes], warm: list[bytes], work: Path,
                        sized: dict[str, dict[bytes, bytes]], relay: dict[str, Any]) -> dict[str, Any]:
    """The Faust relay with each stage's contract edge and no stage logic (:class:`bench.relay.ContractEdge`).

    ``ratio_vs_relay`` is the ratio a pipeline with infinitely fast cores would get while keeping the
    contracts (pydantic models at every edge): the ceiling any speed-up of the cores alone can reach.
    """
    r = run_relays("faust", bootstrap, raws, warm, work, knobs={"edge": True}, payloads=sized)
    out = {"faust_relay_per_s": r["per_s"], "ratio_vs_relay": round(r["per_s"] / relay["per_s"], 3),
           "worker_cpu_ms_per_message": round(1000 * sum(r["cpu_s"].values()) / len(raws), 2),
           "machine_busy": r["machine_busy"]}
    print(f"[bench] contract edge only: {r['per_s']}/s ({out['ratio_vs_relay']:.2f}x the relay)", flush=True)
    return out


def summarise(result: dict[str, Any], sat: float) -> None:
    """The headline keys the issue asks for, at the top level of latest.json."""
    pipe = result["pipeline"]
    result["pipeline_articles_per_s"] = sat
    result["faust_relay_per_s"] = result["faust_relay"]["per_s"]
    result["bare_relay_per_s"] = result["bare_relay"]["per_s"]
    result["ratio"] = round(sat / result["faust_relay_per_s"], 3)
    result["framework_tax"] = round(result["faust_relay_per_s"] / result["bare_relay_per_s"], 3)
    pipe_runs, relay_runs = pipe["per_s_runs"], result["faust_relay"]["per_s_runs"]
    result["ratio_range"] = [round(min(pipe_runs) / max(relay_runs), 3), round(max(pipe_runs) / min(relay_runs), 3)]
    # Per article: publish → its last record (enriched or duplicates, or its alert if it raised one).
    result["latency_ms"] = {f"{round(100 * r['share'])}%": r["last_record_ms"] for r in pipe.get("latency", [])}
    result["latency_to_alert_ms"] = {f"{round(100 * r['share'])}%": r["alert_ms"] for r in pipe.get("latency", [])}
    result["peak_rss_mb"] = pipe["peak_rss_mb"]
    result["cpu_s"] = pipe["cpu_s"]
    result["metrics_vs_bench"] = {"bench_per_s": pipe["per_s_first"], "metrics_per_s": pipe["metrics_per_s"],
                                  "ratio": pipe["metrics_vs_bench"],
                                  "within_5_percent": abs(pipe["metrics_vs_bench"] - 1) <= 0.05}
    result["scaleout_ratio"] = result.get("scaleout", {}).get("ratio")
    # Worker CPU (all four processes) per article: where the pipeline's time goes next to the relay's.
    n = result["n"]
    chains = {"pipeline": pipe, "faust_relay": result["faust_relay"], "bare_relay": result["bare_relay"],
              "faust_relay_at_pipeline_rate": result.get("faust_relay_at_pipeline_rate")}
    # Each chain's figure is the median over its backlogs (``cpu_s_runs``), its spread the runs' min and max.
    runs_ms = {name: [round(1000 * sum(cpu.values()) / n, 2) for cpu in chain.get("cpu_s_runs") or [chain["cpu_s"]]]
               for name, chain in chains.items() if chain}
    result["worker_cpu_ms_per_article"] = {name: median(ms) for name, ms in runs_ms.items()}
    result["worker_cpu_ms_per_article_range"] = {name: [min(ms), max(ms)] for name, ms in runs_ms.items()}
    # Of which the stages (rasd_processing_cpu_seconds_total): entities and the alerter see the originals only.
    unique = pipe["counts"]["bench"]["unique"]
    stage_us = sum(us * (unique if svc in ("entities", "alerter") else n)
                   for svc, us in pipe.get("stage_cpu_us_per_message", {}).items())
    result["worker_cpu_ms_per_article"]["pipeline_stages"] = round(stage_us / n / 1000, 2)
    # Not the ratio (that compares saturation rates): the relay's worker CPU per message when offered the
    # pipeline's rate over the pipeline's — how little the stages add to the framework at the same rate.
    cpu = result["worker_cpu_ms_per_article"]
    if "faust_relay_at_pipeline_rate" in cpu and cpu["pipeline"]:
        result["cpu_ratio_at_pipeline_rate"] = round(cpu["faust_relay_at_pipeline_rate"] / cpu["pipeline"], 3)
    # Issue 18's two targets, median and [min, max] over the backlogs: the framework's share of the pipeline's worker
    # CPU over the bare relay's with the same hops (<= 5), and the pipeline's CPU over the Faust relay's offered the
    # same rate (<= 1.5).
    spread = result["worker_cpu_ms_per_article_range"]
    stages = cpu["pipeline_stages"]
    if cpu.get("bare_relay"):
        (p_lo, p_hi), (b_lo, b_hi) = spread["pipeline"], spread["bare_relay"]
        result["framework_tax_cpu"] = {"median": round((cpu["pipeline"] - stages) / cpu["bare_relay"], 2),
                                       "range": [round((p_lo - stages) / b_hi, 2), round((p_hi - stages) / b_lo, 2)]}
    if cpu.get("faust_relay_at_pipeline_rate"):
        (p_lo, p_hi), (r_lo, r_hi) = spread["pipeline"], spread["faust_relay_at_pipeline_rate"]
        result["cpu_vs_relay_at_pipeline_rate"] = {
            "median": round(cpu["pipeline"] / cpu["faust_relay_at_pipeline_rate"], 2),
            "range": [round(p_lo / r_hi, 2), round(p_hi / r_lo, 2)]}


if __name__ == "__main__":
    sys.exit(main())
