"""The ``rasd`` command: run the pipeline, publish articles, follow alerts, run one worker, process offline."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from rasd.alert_filters import AlertFilter, Containers, alias_index, passes
from schemas.codec import DecodeError, decode
from schemas.models import Alert, DeadLetter
from schemas.topics import Topics
from services.alerter.core import SEVERITY_RANK
from services.common.security import StartupError, settings_error_line
from services.common.settings import OPTIONAL_SERVICES, SERVICES, SETTINGS_BY_SERVICE, CommonSettings, metrics_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCAL_PORT = 9092


def _bootstrap() -> str:
    """The configured bootstrap servers, or the address ``rasd run`` gives its local broker."""
    configured = CommonSettings().bootstrap_servers
    port = int(os.environ.get("RASD_LOCAL_KAFKA_PORT", DEFAULT_LOCAL_PORT))
    return configured or f"127.0.0.1:{port}"


# ---------------------------------------------------------------- worker


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one service as a Faust worker, with its Prometheus endpoint."""
    import importlib

    from services.common.metrics import service_registry
    from services.common.security import check_access, kafka_auth
    from services.common.worker import run_worker, serve_metrics

    settings = SETTINGS_BY_SERVICE[args.name]()
    if not settings.bootstrap_servers:
        print("RASD_BOOTSTRAP_SERVERS is not set: point it at Kafka, or use `rasd run`.", file=sys.stderr)
        return 2
    # A refused login or TLS handshake cannot get better by retrying: say so in one line and stop.
    asyncio.run(check_access(settings.bootstrap_servers, kafka_auth(settings), unreachable_ok=True))
    registry = service_registry()
    module = importlib.import_module(f"services.{args.name}.agent")
    app = module.build(settings, registry, worker_tag=args.tag)
    serve_metrics(settings, registry, args.metrics_port)
    run_worker(app, loglevel=args.loglevel)
    return 0


# ---------------------------------------------------------------- publish / alerts


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish article files to the raw topic."""
    from rasd.inputs import read_articles
    from rasd.kafka_io import publish

    keys = asyncio.run(publish(_bootstrap(), args.topic or Topics().raw, read_articles(args.paths)))
    print(f"published {len(keys)} article(s) to {args.topic or Topics().raw}")
    return 0


def format_alert(alert: Alert) -> str:
    """One human line per alert: severity, score, title, the evidence and who/where."""
    terms = ", ".join(dict.fromkeys(m.term for m in alert.matches))
    who = ", ".join(e.name for e in alert.entities[:5])
    line = f"[{alert.severity.upper():6s} {alert.score:5.2f}] {alert.title}  ({alert.article_id})"
    line += f"\n    evidence: {terms}"
    return line + (f"\n    entities: {who}" if who else "")


def _alert_filter(args: argparse.Namespace) -> tuple[AlertFilter, dict[str, frozenset[str]], Containers | None]:
    """The subscriber's filter, and the gazetteer's names and place containment when it filters by entity or place."""
    flt = AlertFilter(args.min_severity, tuple(args.entity), tuple(args.place), tuple(args.language))
    if not (flt.entities or flt.places):
        return flt, {}, None
    from services.entities.core import Gazetteer

    gazetteer = Gazetteer.load()
    return flt, alias_index((e.id, (e.name, *e.ar, *e.en)) for e in gazetteer.entries), gazetteer.containers


async def _print_alerts(bootstrap: str, args: argparse.Namespace) -> None:
    from rasd.kafka_io import Follower

    flt, aliases, containers = _alert_filter(args)
    printed = 0
    async with Follower(bootstrap, [Topics().alerts], group_id=args.group) as follower:
        while True:
            for record in await follower.poll():
                follower.ack(record)
                try:
                    alert = decode(record.value, Alert)
                except DecodeError as exc:
                    print(f"(undecodable alert at offset {record.offset}: {exc})", file=sys.stderr)
                    continue
                if not passes(alert, flt, aliases, containers):
                    continue
                text = orjson.dumps(alert.model_dump(mode="json")).decode() if args.json else format_alert(alert)
                print(text, flush=True)
                printed += 1
                if args.limit and printed >= args.limit:
                    return


def cmd_alerts(args: argparse.Namespace) -> int:
    """Subscribe to the alerts topic and print alerts as they arrive."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_print_alerts(_bootstrap(), args))
    return 0


# ---------------------------------------------------------------- process


def cmd_process(args: argparse.Namespace) -> int:
    """Run the four cores offline and print one JSON line per input article."""
    from rasd.inputs import read_articles
    from rasd.offline import process_all

    out = sys.stdout.buffer
    for record in process_all(read_articles(args.paths)):
        out.write(orjson.dumps(record) + b"\n")
    out.flush()
    return 0


# ---------------------------------------------------------------- run


@contextlib.contextmanager
def _broker(args: argparse.Namespace) -> Iterator[str]:
    settings = CommonSettings()
    configured = settings.bootstrap_servers
    if configured:
        yield configured
        return
    if settings.kafka_security_protocol != "PLAINTEXT":
        raise StartupError(f"RASD_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} but the embedded broker "
                           "speaks PLAINTEXT: set RASD_BOOTSTRAP_SERVERS to your Kafka, or unset RASD_KAFKA_*")
    from rasd.kafka_local import LocalKafka

    port = int(os.environ.get("RASD_LOCAL_KAFKA_PORT", DEFAULT_LOCAL_PORT))
    print(f"starting the local Apache Kafka broker on 127.0.0.1:{port} (first run fetches it with Maven)…")
    with LocalKafka(port=port, log_file=args.state_dir / "kafka.log") as kafka:
        print(f"kafka ready at {kafka.bootstrap_servers}")
        yield kafka.bootstrap_servers


async def _watch(bootstrap: str, keys: set[str], once: bool, timeout: float) -> int:
    """Print alerts live; with ``once``, return when every published article has reached its last topic.

    An article's last topic is ``articles.duplicates``, ``articles.dlq`` or, for unique articles,
    the alerter having consumed it from ``articles.enriched`` and then from its story-keyed internal
    topic (its consumer group has no lag left on either).
    """
    from rasd.kafka_io import Follower, group_lag

    topics = Topics()
    alerter_group = SETTINGS_BY_SERVICE["alerter"]().app_id
    finished: set[str] = set()
    deadline = time.monotonic() + timeout

    async def caught_up() -> bool:
        # Faust flushes its producer before committing offsets, so once the route agent has committed all of
        # articles.enriched its story-keyed sends are in Kafka; once the deciding agent has committed those too,
        # every alert is in Kafka. (An unknown topic reads as None, never as caught up.)
        return (await group_lag(bootstrap, alerter_group, topics.enriched) == 0
                and await group_lag(bootstrap, alerter_group, f"{alerter_group}-by-story") == 0)

    async with Follower(bootstrap, [topics.alerts, topics.duplicates, topics.enriched, topics.dlq]) as follower:
        while True:
            for record in await follower.poll():
                if record.topic == topics.alerts:
                    print(format_alert(decode(record.value, Alert)), flush=True)
                    continue
                if record.topic == topics.dlq:
                    letter = decode(record.value, DeadLetter)
                    print(f"[DLQ] {letter.stage}: {letter.error}", flush=True)
                if record.key in keys:
                    finished.add(record.key)
            if not once:
                continue
            if finished >= keys and await caught_up():
                # Faust flushes its producer before committing, so every alert is in Kafka now (or within its
                # buffer interval): drain them.
                while records := await follower.poll(3.0):
                    for record in records:
                        if record.topic == topics.alerts:
                            print(format_alert(decode(record.value, Alert)), flush=True)
                print(f"done: {len(keys)} article(s) through the pipeline")
                return 0
            if time.monotonic() > deadline:
                print(f"timed out: {len(keys - finished)} article(s) did not finish", file=sys.stderr)
                return 1


def cmd_run(args: argparse.Namespace) -> int:
    """Local broker if needed, the four workers, publish the seeds, show alerts live."""
    from rasd.inputs import read_articles
    from rasd.kafka_io import message_key, publish
    from rasd.kafka_local import create_topics
    from rasd.runner import Workers

    args.state_dir.mkdir(parents=True, exist_ok=True)
    with _broker(args) as bootstrap:
        settings = CommonSettings()
        asyncio.run(create_topics(bootstrap, settings.topics.all(), partitions=settings.partitions))
        webhook = ("webhook",) if os.environ.get("RASD_WEBHOOK_URLS", "").strip() else ()  # only when configured
        workers = Workers(bootstrap, log_dir=args.state_dir / "logs", services=(*SERVICES, *webhook),
                          extra_env={"RASD_DATA_DIR": str(args.state_dir / "data")})
        try:
            workers.start()
            workers.wait_ready()
            for proc in workers.procs:
                print(f"{proc.service:12s} metrics: {proc.metrics_url}   log: {proc.log_path}")
            raws = list(read_articles(args.paths or [PROJECT_ROOT / "seeds"]))
            asyncio.run(publish(bootstrap, settings.topics.raw, raws))
            print(f"published {len(raws)} article(s); alerts follow (Ctrl-C to stop)\n", flush=True)
            keys = {message_key(r) for r in raws}
            return asyncio.run(_watch(bootstrap, keys, args.once, args.timeout))
        except KeyboardInterrupt:
            print("\nstopping…")
            return 0
        finally:
            workers.stop()


# ---------------------------------------------------------------- top


def top_endpoints(specs: Sequence[str]) -> dict[str, list[str]]:
    """Metrics URLs per service: ``SERVICE=URL`` specs (repeat a service for its replicas), else each
    pipeline service's configured port on 127.0.0.1."""
    if not specs:
        return {s: [f"http://127.0.0.1:{metrics_port(SETTINGS_BY_SERVICE[s]())}/metrics"] for s in SERVICES}
    endpoints: dict[str, list[str]] = {}
    for spec in specs:
        service, sep, url = spec.partition("=")
        if not sep or not url:
            raise SystemExit(f"--endpoint wants SERVICE=URL, got {spec!r}")
        endpoints.setdefault(service, []).append(url)
    return endpoints


def cmd_top(args: argparse.Namespace) -> int:
    """A live terminal view of the pipeline from the services' metrics endpoints."""
    from rasd.top import run

    def show(screen: str) -> None:
        print(screen, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        run(top_endpoints(args.endpoint), interval=args.interval, once=args.once, out=show)
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rasd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="local broker, the four services, publish seeds/, print alerts live")
    run.add_argument("paths", nargs="*", type=Path, help="articles to publish (default: seeds/)")
    run.add_argument("--once", action="store_true", help="exit when every published article is through")
    run.add_argument("--timeout", type=float, default=300.0, help="with --once: give up after this many seconds")
    run.add_argument("--state-dir", type=Path, default=Path(tempfile.gettempdir()) / "rasd-run",
                     help="logs and table state of this run")
    run.set_defaults(func=cmd_run)

    pub = sub.add_parser("publish", help="publish .txt/.json/.jsonl articles to the raw topic")
    pub.add_argument("paths", nargs="+", type=Path)
    pub.add_argument("--topic", help="topic (default: RASD_TOPIC_RAW or articles.raw)")
    pub.set_defaults(func=cmd_publish)

    alerts = sub.add_parser("alerts", help="subscribe to alerts and print them")
    alerts.add_argument("--min-severity", choices=list(SEVERITY_RANK), default="low")
    alerts.add_argument("--entity", action="append", default=[],
                        help="only alerts naming this person or place: canonical id or AR/EN name (repeatable)")
    alerts.add_argument("--place", action="append", default=[], help="only alerts naming this place (repeatable)")
    alerts.add_argument("--language", action="append", default=[], help="only alerts in this language, e.g. ar")
    alerts.add_argument("--json", action="store_true", help="one JSON alert per line")
    alerts.add_argument("--group", default="rasd-alerts-cli", help="consumer group (resumes where it stopped)")
    alerts.add_argument("--limit", type=int, default=0, help="exit after printing this many alerts")
    alerts.set_defaults(func=cmd_alerts)

    worker = sub.add_parser("worker", help="run one service as a Faust worker")
    worker.add_argument("name", choices=(*SERVICES, *OPTIONAL_SERVICES))
    worker.add_argument("--metrics-port", type=int, default=None, help="override RASD_<SERVICE>_METRICS_PORT")
    worker.add_argument("--tag", default="", help="suffix for this worker's state dir (several on one host)")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)

    top = sub.add_parser("top", help="live view of throughput, lag, latency, DLQ, duplicates, alerts")
    top.add_argument("--endpoint", action="append", default=[], metavar="SERVICE=URL",
                     help="a metrics URL (repeat; default: each pipeline service's port on 127.0.0.1)")
    top.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    top.add_argument("--once", action="store_true", help="print one view (two reads an interval apart) and exit")
    top.set_defaults(func=cmd_top)

    proc = sub.add_parser("process", help="run the four cores offline; one JSON line per article")
    proc.add_argument("paths", nargs="+", type=Path)
    proc.set_defaults(func=cmd_process)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except StartupError as exc:  # Kafka refused us, a setting cannot work: one line, no traceback
        print(f"rasd {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except ValidationError as exc:  # RASD_* settings that do not validate
        print(f"rasd {args.command}: {settings_error_line(exc)}", file=sys.stderr)
        return 2
    return result
