"""Faults on the real broker — SIGKILLed workers, a broker restart — and an account of every article.

``python -m tests.integration.chaos`` (``make chaos``) starts its own broker (free port, kept data directory),
the four workers, and feeds generated articles (``bench.articles``: stories, near-copies, plus exact copies
under new ids) at a steady rate while it SIGKILLs workers, restarts each at once, and restarts the broker.
Then it waits for the pipeline to drain, reads every topic from the beginning and prints what happened:
published, decided, enriched, alerted, dead-lettered, lost, redelivered, duplicate alert ids, conflicting
dedup decisions, and how long each fault took to recover from.  ``tests/integration/test_faults.py`` runs a
CI-sized plan (one SIGKILL of each service, one broker restart) and asserts on the same report.

A few articles are published before any worker exists and the rest while the workers join, so the fresh
groups start on partitions with no committed offset: the never-committed-partition case of issue 7 happens
in every run, not only under fault injection (tests/integration/test_uncommitted_partitions.py).

How things are counted:

* **published** — distinct article ids the broker acknowledged (a send retried during the broker's
  restart may be stored twice: counted once here, and in ``raw`` under "redelivered");
* **decided** — ids with a verdict on ``articles.unique`` or ``articles.duplicates``;
  **enriched** — ids on ``articles.enriched``; **alerted** — distinct alert ids on ``alerts``;
* **lost** — a published id with no verdict and no dead letter, a unique id never enriched, or a story
  with an alert-worthy enriched article (the alerter core's ``detect``) but no alert at all;
* **redelivered** — per topic, records beyond one per id (at-least-once: a replay after a crash);
* **conflicting decisions** — ids given two different verdicts (status or ``duplicate_of``);
* **recovery** — for a SIGKILL, from the restart to the first message the new process processed
  (``rasd_processing_seconds_count``), with the process start-up (restart → metrics served) apart; for
  the broker, from its being ready again (its JVM's start-up apart) to every stage having processed a new
  message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from rasd.kafka_io import group_lag
from rasd.kafka_local import LocalKafka, create_topics
from rasd.runner import WorkerProcess, Workers
from schemas.codec import article_id_of, decode
from schemas.models import Alert, DeadLetter, DedupedArticle, EnrichedArticle
from schemas.topics import Topics
from services.common.settings import SERVICES

from .helpers import free_port, isolated_env

_PROCESSED = re.compile(r"^rasd_processing_seconds_count(?:\{[^}]*\})? (\S+)$", re.M)


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    """What to publish and which faults to inject."""

    articles: int = 300
    rate: float = 8.0  # articles per second, while the faults happen
    kills: tuple[str, ...] = SERVICES  # services SIGKILLed one after another, each restarted at once
    broker_restart_after: int = len(SERVICES)  # the broker restarts after this many kills (-1: never)
    broker_down: float = 5.0  # seconds the broker stays down
    broker_sigkill: bool = False  # kill -9 the broker instead of stopping it
    pause: tuple[float, float] = (2.0, 2.0)  # seconds between a recovery and the next fault (uniform range)
    before_workers: int = 10  # articles published before any worker starts
    copies: float = 0.1  # exact copies (same text, new id) among the articles
    seed: int = 16
    drain_timeout: float = 180.0
    recovery_timeout: float = 120.0


@dataclass
class Fault:
    """One fault and how long the pipeline took to get over it."""

    what: str
    at: float  # seconds since the first fault
    start_s: float | None = None  # restart → the worker serves its metrics (its process start-up)
    recovery_s: float | None = None  # restart (broker: ready again) → processing again

    @property
    def rejoin_s(self) -> float | None:
        """Of the recovery, what came after the process start-up: joining the group, recovering tables."""
        if self.recovery_s is None or self.start_s is None or self.what.startswith("broker"):
            return self.recovery_s
        return self.recovery_s - self.start_s


@dataclass
class Report:
    """What came out, and what the pipeline did to each article."""

    plan: Plan
    published: int = 0
    decided: int = 0
    unique: int = 0
    duplicates: int = 0
    enriched: int = 0
    alerted: int = 0
    dead_lettered: int = 0
    lost: list[str] = field(default_factory=list)
    redelivered: dict[str, int] = field(default_factory=dict)
    duplicate_alert_ids: list[str] = field(default_factory=list)
    conflicting: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    shutdown_s: dict[str, float] = field(default_factory=dict)
    shutdown_codes: dict[str, int | None] = field(default_factory=dict)
    elapsed: float = 0.0
    drain_s: float = 0.0

    @property
    def worst_recovery(self) -> float | None:
        times = [f.recovery_s for f in self.faults]
        return None if any(t is None for t in times) else max((t for t in times if t is not None), default=0.0)

    def failures(self, recovery_limit: float | None = None) -> list[str]:
        """What breaks the promise: loss, conflicting verdicts, alert ids twice, a fault never recovered from."""
        problems = []
        if self.lost:
            problems.append(f"{len(self.lost)} lost: {self.lost[:10]}")
        if self.conflicting:
            problems.append(f"{len(self.conflicting)} conflicting dedup decisions: {self.conflicting[:10]}")
        if self.duplicate_alert_ids:
            problems.append(f"{len(self.duplicate_alert_ids)} duplicate alert ids: {self.duplicate_alert_ids[:10]}")
        for fault in self.faults:
            if fault.recovery_s is None:
                problems.append(f"{fault.what}: no recovery within {self.plan.recovery_timeout:.0f} s")
            elif recovery_limit is not None and fault.recovery_s > recovery_limit:
                problems.append(f"{fault.what}: recovery {fault.recovery_s:.1f} s > {recovery_limit:.0f} s")
        return problems

    def table(self) -> str:
        """The run as Markdown: the counts, then one row per fault, then the workers' SIGTERM exits."""
        redelivered = ", ".join(f"{t} {n}" for t, n in self.redelivered.items() if n) or "0"
        rows = [
            ("published", f"{self.published:,}"),
            ("decided (unique + duplicates)", f"{self.decided:,} ({self.unique:,} + {self.duplicates:,})"),
            ("enriched", f"{self.enriched:,}"),
            ("alerted (distinct alert ids)", f"{self.alerted:,}"),
            ("dead-lettered", f"{self.dead_lettered:,}"),
            ("lost", f"{len(self.lost)}"),
            ("redelivered (records beyond one per id)", redelivered),
            ("duplicate alert ids", f"{len(self.duplicate_alert_ids)}"),
            ("conflicting dedup decisions", f"{len(self.conflicting)}"),
            ("worst recovery", _s(self.worst_recovery)),
            ("drain after the last article", _s(self.drain_s)),
            ("run", _s(self.elapsed)),
        ]
        out = ["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
        out += ["| fault | at | process start-up | recovery: processing again after | of which after start-up |",
                "|---|---|---|---|---|"]
        out += [f"| {f.what} | {f.at:.0f} s | {_s(f.start_s)} | {_s(f.recovery_s)} | {_s(f.rejoin_s)} |"
                for f in self.faults]
        if self.shutdown_s:
            out += ["", "| SIGTERM, broker up | " + " | ".join(self.shutdown_s) + " |",
                    "|---|" + "---|" * len(self.shutdown_s),
                    "| exit after | " + " | ".join(
                        f"{s:.1f} s (rc {self.shutdown_codes.get(k)})" for k, s in self.shutdown_s.items()) + " |"]
        return "\n".join(out)


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def processed(proc: WorkerProcess) -> float | None:
    """Messages the worker's stage processed (None while its metrics are not served)."""
    page = proc.metrics_text()
    if page is None:
        return None
    return sum(float(m) for m in _PROCESSED.findall(page))


# ------------------------------------------------------------------------------------------ articles


def articles(n: int, *, copies: float, seed: int) -> list[tuple[str, bytes]]:
    """``n`` raw articles (id, JSON bytes): ``bench.articles`` (stories, near-copies) plus exact copies, each
    20-200 articles after its original, under a new id."""
    from bench.articles import generate

    rng = random.Random(seed)
    exact = int(n * copies)
    made = [orjson.loads(raw) for raw in generate(n - exact, seed=seed, prefix="chaos")]
    for i in range(exact):
        at = rng.randrange(21, len(made) + 1)
        original = made[at - rng.randint(20, min(200, at))]
        made.insert(at, {**original, "id": f"chaos-copy-{i:05d}", "url": f"https://copy.example/{i}"})
    return [(a["id"], orjson.dumps(a)) for a in made]


class Feed:
    """Publishes articles at a steady rate; a send that fails (the broker is down) is tried again.

    The first ``main`` articles go out at the plan's rate; the rest are spares, published one a second only
    while the faults still need input to show a stage processing again.
    """

    def __init__(self, bootstrap: str, topic: str, items: list[tuple[str, bytes]], main: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.pending = list(items)
        self.main = main
        self.acked: list[str] = []
        self.retries = 0

    async def publish(self, count: int | None = None, rate: float | None = None,
                      keep_going: Callable[[], bool] = lambda: False) -> None:
        """Publish ``count`` articles (default: the main ones, then spares while ``keep_going()``), ``rate``
        per second (default: at once)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, request_timeout_ms=10_000,
            retry_backoff_ms=250, metadata_max_age_ms=2_000,
        )
        await producer.start()
        target = len(self.acked) + count if count is not None else self.main
        tick = 0.2
        try:
            while self.pending and (len(self.acked) < target or (count is None and keep_going())):
                started = time.monotonic()
                now_rate = rate if len(self.acked) < target else 1.0
                size = max(1, round(now_rate * tick)) if now_rate else max(1, target - len(self.acked))
                batch, self.pending = self.pending[:size], self.pending[size:]
                retry = await self._send(producer, batch)
                self.pending = retry + self.pending
                if retry:
                    self.retries += 1
                    await asyncio.sleep(1.0)
                elif now_rate:
                    await asyncio.sleep(max(0.0, size / now_rate - (time.monotonic() - started)))
        finally:
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, batch: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        sent: list[tuple[tuple[str, bytes], asyncio.Future[object] | None]] = []
        for item in batch:
            try:
                sent.append((item, await producer.send(self.topic, value=item[1], key=item[0].encode())))
            except KafkaError:
                sent.append((item, None))
        retry = []
        for item, future in sent:
            try:
                if future is None:
                    raise KafkaError("not queued")
                await future
                self.acked.append(item[0])
            except KafkaError:
                retry.append(item)
        return retry


# -------------------------------------------------------------------------------------------- outputs


class Outputs:
    """Reads the pipeline's topics from the beginning, all along the run."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.topics = topics
        self.names = [topics.raw, topics.unique, topics.duplicates, topics.enriched, topics.alerts, topics.dlq]
        self.records: dict[str, list[tuple[str | None, bytes]]] = defaultdict(list)
        self.decided: set[str] = set()  # keys (article ids) seen on unique or duplicates
        self.unique: set[str] = set()
        self.enriched: set[str] = set()
        self.dead: set[str] = set()
        self._consumer = AIOKafkaConsumer(
            *self.names, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
            group_id=None, metadata_max_age_ms=1_000, max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Outputs:
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        t = self.topics
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=500)
            except KafkaError:  # the broker is restarting
                await asyncio.sleep(0.5)
                continue
            for records in batch.values():
                for r in records:
                    key, value = (r.key.decode() if r.key else None), r.value or b""
                    self.records[r.topic].append((key, value))
                    if key is None:
                        continue
                    # Ids only while the run goes on (decoding every record would compete with the workers for the
                    # CPU); the values are decoded once, at the end (:meth:`verdicts`).  Unique and enriched
                    # articles are keyed by story: their id is read from the value's head.
                    if r.topic == t.duplicates:
                        self.decided.add(key)
                    elif r.topic == t.unique:
                        article = article_id_of(value) or key
                        self.decided.add(article)
                        self.unique.add(article)
                    elif r.topic == t.enriched:
                        self.enriched.add(article_id_of(value) or key)
                    elif r.topic == t.dlq:
                        self.dead.add(key)

    def verdicts(self) -> dict[str, set[tuple[str, str | None]]]:
        """Every verdict given, per article id (a replay repeats one; two different ones conflict)."""
        given: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
        for topic in (self.topics.unique, self.topics.duplicates):
            for _, value in self.records[topic]:
                article = decode(value, DedupedArticle)
                given[article.id].add((article.dedup.status, article.dedup.duplicate_of))
        return given

    def undecided(self, published: list[str]) -> set[str]:
        return set(published) - self.decided - self.dead

    def unenriched(self) -> set[str]:
        return self.unique - self.enriched - self.dead


async def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


# ---------------------------------------------------------------------------------------------- run


class Chaos:
    """One run of a :class:`Plan` in ``workdir`` (broker data, worker logs and state)."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.port = free_port()
        self.kafka: LocalKafka | None = None
        self.env, self.topics = isolated_env(workdir / "state")
        self.rng = random.Random(plan.seed)
        self.report = Report(plan)
        self.t0 = 0.0

    def start_broker(self) -> LocalKafka:
        self.kafka = LocalKafka(data_dir=self.workdir / "kafka", port=self.port, log_file=self.workdir / "broker.log")
        return self.kafka.start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def run(self) -> Report:
        started = time.monotonic()
        plan = self.plan
        log(f"generating {plan.articles} articles")
        spares = 300
        feed_items = articles(plan.articles + spares, copies=plan.copies, seed=plan.seed)
        self.start_broker()
        workers = Workers(self.bootstrap, log_dir=self.workdir / "logs", services=(), extra_env=self.env)
        try:
            await create_topics(self.bootstrap, self.topics.all(), partitions=4)
            feed = Feed(self.bootstrap, self.topics.raw, feed_items, plan.articles)
            async with Outputs(self.bootstrap, self.topics) as outputs:
                await feed.publish(plan.before_workers)  # before any worker: fresh groups, nothing committed
                for service in SERVICES:
                    workers.add(service, metrics_port=free_port())
                faulting = True
                publishing = asyncio.create_task(feed.publish(rate=plan.rate, keep_going=lambda: faulting))
                await asyncio.to_thread(workers.wait_ready, 120.0)
                if not await wait_until(lambda: all((processed(p) or 0) > 0 for p in workers.procs), 120, 0.5):
                    raise RuntimeError("the pipeline never started processing")
                log(f"pipeline running ({len(feed.acked)} published)")
                await self.faults(workers, outputs)
                faulting = False
                log("faults done; publishing the rest")
                await publishing
                last = time.monotonic()
                await self.drain(feed, outputs)
                self.report.drain_s = time.monotonic() - last
                self.account(feed, outputs)
            self.stop_workers(workers)
        finally:
            for proc in workers.procs:
                if proc.proc.poll() is None:
                    proc.kill()
            if self.kafka is not None:
                self.kafka.stop()
        self.report.elapsed = time.monotonic() - started
        return self.report

    async def faults(self, workers: Workers, outputs: Outputs) -> None:
        plan = self.plan
        self.t0 = time.monotonic()
        for i, service in enumerate(plan.kills):
            if i == plan.broker_restart_after:
                await self.restart_broker(workers)
                await asyncio.sleep(self.rng.uniform(*plan.pause))
            victim = next(p for p in workers.procs if p.service == service)
            await self.kill_and_restart(workers, victim)
            await asyncio.sleep(self.rng.uniform(*plan.pause))
        if plan.broker_restart_after >= len(plan.kills):
            await self.restart_broker(workers)

    async def kill_and_restart(self, workers: Workers, victim: WorkerProcess) -> None:
        fault = Fault(f"SIGKILL {victim.service}", time.monotonic() - self.t0)
        self.report.faults.append(fault)
        victim.kill()
        fresh = workers.restart(victim)
        deadline = fresh.started + self.plan.recovery_timeout
        while time.monotonic() < deadline:
            count = processed(fresh)
            if count is not None and fault.start_s is None:
                fault.start_s = time.monotonic() - fresh.started
            if count:
                fault.recovery_s = time.monotonic() - fresh.started
                break
            if fresh.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        log(f"{fault.what}: start-up {_s(fault.start_s)}, processing again after {_s(fault.recovery_s)}")

    async def restart_broker(self, workers: Workers) -> None:
        plan = self.plan
        kind = "SIGKILL" if plan.broker_sigkill else "stop"
        fault = Fault(f"broker {kind}, {plan.broker_down:.0f} s down, restart", time.monotonic() - self.t0)
        self.report.faults.append(fault)
        assert self.kafka is not None
        if plan.broker_sigkill and self.kafka.pid is not None:
            os.kill(self.kafka.pid, signal.SIGKILL)
        await asyncio.to_thread(self.kafka.stop)
        await asyncio.sleep(plan.broker_down)
        spawned = time.monotonic()
        await asyncio.to_thread(self.start_broker)
        ready = time.monotonic()
        fault.start_s = ready - spawned  # the JVM's start-up; recovery counts from the broker being ready
        before = {id(p): processed(p) or 0.0 for p in workers.procs}

        def all_moved() -> bool:
            return all((processed(p) or 0.0) > before[id(p)] for p in workers.procs)

        if await wait_until(all_moved, plan.recovery_timeout, 0.2):
            fault.recovery_s = time.monotonic() - ready
        log(f"{fault.what}: every stage processing again after {_s(fault.recovery_s)}")

    async def drain(self, feed: Feed, outputs: Outputs) -> None:
        group = f"{self.env['RASD_APP_ID_PREFIX']}-alerter"

        async def alerter_caught_up() -> bool:
            try:
                return await group_lag(self.bootstrap, group, self.topics.enriched) == 0
            except KafkaError:
                return False

        deadline = time.monotonic() + self.plan.drain_timeout
        while time.monotonic() < deadline:
            if not outputs.undecided(feed.acked) and not outputs.unenriched() and await alerter_caught_up():
                await asyncio.sleep(2.0)  # alerts the alerter sent just before committing
                return
            await asyncio.sleep(1.0)
        log(f"drain timed out: {len(outputs.undecided(feed.acked))} undecided, "
            f"{len(outputs.unenriched())} not enriched")

    def stop_workers(self, workers: Workers) -> None:
        for proc in workers.procs:
            proc.terminate()
        sent = time.monotonic()
        for proc in workers.procs:
            code = proc.wait_stopped(sent + 30)
            self.report.shutdown_s[proc.service] = time.monotonic() - sent
            self.report.shutdown_codes[proc.service] = code

    def account(self, feed: Feed, outputs: Outputs) -> None:
        from services.alerter.core import Lexicon, detect

        r, t = self.report, self.topics
        published = set(feed.acked)
        r.published = len(published)
        verdicts = outputs.verdicts()
        r.decided = len(set(verdicts) & published)
        unique = {i for i, v in verdicts.items() if any(status == "unique" for status, _ in v)}
        r.unique = len(unique)
        r.duplicates = len({i for i, v in verdicts.items() if any(s == "duplicate" for s, _ in v)})
        enriched = {decode(value, EnrichedArticle).id for _, value in outputs.records[t.enriched]}
        r.enriched = len(enriched)
        r.dead_lettered = len(outputs.records[t.dlq])
        for key, value in outputs.records[t.dlq]:
            letter = decode(value, DeadLetter)
            log(f"dead letter {key}: {letter.stage}: {letter.error[:200]}")
        r.conflicting = sorted(i for i, v in verdicts.items() if len(v) > 1)
        alerts = [decode(value, Alert) for _, value in outputs.records[t.alerts]]
        ids = Counter(a.alert_id for a in alerts)
        r.alerted = len(ids)
        r.duplicate_alert_ids = sorted(i for i, n in ids.items() if n > 1)
        alerted_stories = {a.story_id for a in alerts}
        lexicon, now = Lexicon.load(), time.time()
        worthy: dict[str, str] = {}
        for _, value in outputs.records[t.enriched]:
            article = decode(value, EnrichedArticle)
            if article.story_id not in worthy and detect(article, lexicon=lexicon, now=now) is not None:
                worthy[article.story_id] = article.id
        lost = (published - set(verdicts) - outputs.dead) | (unique - enriched - outputs.dead)
        r.lost = sorted(lost) + [f"story {s} (alert-worthy {a}) has no alert"
                                 for s, a in sorted(worthy.items()) if s not in alerted_stories]
        for topic in outputs.names:
            if topic in (t.alerts, t.dlq):
                continue
            # Per article id, read from the value: articles.unique and articles.enriched are keyed by story (many
            # articles share a key there), so counting keys took a story's other articles for redeliveries.
            ids = Counter(article_id_of(value) or k for k, value in outputs.records[topic])
            r.redelivered[topic.rsplit(".", 1)[-1]] = sum(ids.values()) - len(ids)


def plan_from_args(argv: list[str] | None = None) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=20.0, help="articles per second while the faults happen")
    parser.add_argument("--kills", type=int, default=8, help="random SIGKILLs (each worker restarted at once)")
    parser.add_argument("--broker-down", type=float, default=20.0, help="seconds the broker is down")
    parser.add_argument("--broker-stop", action="store_true", help="stop the broker cleanly instead of kill -9")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    parser.add_argument("--workdir", type=Path, default=None, help="keep broker data and worker logs here")
    parser.add_argument("--recovery-limit", type=float, default=15.0, help="fail when a recovery takes longer")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    kills = tuple(rng.choice(SERVICES) for _ in range(args.kills))
    plan = Plan(
        articles=args.articles, rate=args.rate, kills=kills,
        broker_restart_after=rng.randint(1, max(1, args.kills - 1)), broker_down=args.broker_down,
        broker_sigkill=not args.broker_stop, pause=(3.0, 10.0), seed=args.seed,
        drain_timeout=600.0,
    )
    return plan, args


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker's restart: one line per retry
    plan, args = plan_from_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rasd-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"plan: {plan}; logs in {workdir}")
    report = asyncio.run(Chaos(plan, workdir).run())
    print(f"\nmake chaos — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, seed {plan.seed}, "
          f"{plan.articles:,} articles at {plan.rate:g}/s, {len(plan.kills)} SIGKILLs, broker "
          f"{'SIGKILLed' if plan.broker_sigkill else 'stopped'} {plan.broker_down:g} s, {os.cpu_count()} cores\n")
    print(report.table())
    problems = report.failures(args.recovery_limit)
    for problem in problems:
        print(f"FAILED: {problem}")
    print("\nOK: 0 lost, 0 conflicting decisions, 0 duplicate alert ids" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
