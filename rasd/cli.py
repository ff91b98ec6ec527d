"""The ``rasd`` command: run the pipeline, publish articles, follow alerts, run one worker, process offline."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from rasd.alert_filters import AlertFilter, Containers, alias_index, passes, unknown
from rasd.errors import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, CliError, InputError, quiet_kafka_logs, unreachable_hint
from rasd.state import StateDir
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

    from rasd.errors import wait_for_kafka
    from services.common.metrics import service_registry
    from services.common.security import check_access, kafka_auth
    from services.common.worker import run_worker, serve_metrics

    settings = SETTINGS_BY_SERVICE[args.name]()
    if not settings.bootstrap_servers:
        print("RASD_BOOTSTRAP_SERVERS is not set: point it at Kafka, or use `rasd run`.", file=sys.stderr)
        return 2
    # A refused login or TLS handshake cannot get better by retrying: say so in one line and stop.
    asyncio.run(check_access(settings.bootstrap_servers, kafka_auth(settings), unreachable_ok=True))
    # Faust gives up at once (a traceback) on a broker it cannot reach: wait for it a while, then one line, exit 3.
    asyncio.run(wait_for_kafka(settings.bootstrap_servers, kafka_auth(settings), wait=args.broker_wait,
                               on_wait=f"rasd worker {args.name}: waiting up to {args.broker_wait:g} s for Kafka "
                                       "({cause})"))
    module = importlib.import_module(f"services.{args.name}.agent")
    if hasattr(module, "prepare"):  # the service's own check of its topics before Faust starts (the deduplicator's)
        asyncio.run(module.prepare(settings))
    registry = service_registry()
    app = module.build(settings, registry, worker_tag=args.tag)
    serve_metrics(settings, registry, args.metrics_port)
    run_worker(app, loglevel=args.loglevel)
    return 0


# ---------------------------------------------------------------- publish / alerts


def _reach_hint(exc: StartupError) -> CliError:
    """A start-up failure as a :class:`CliError`: Kafka out of reach gets what to do (start the local broker when
    RASD_BOOTSTRAP_SERVERS is unset)."""
    configured = bool(os.environ.get("RASD_BOOTSTRAP_SERVERS", "").strip())
    error = CliError(str(exc), unreachable_hint(configured) if exc.code == EXIT_UNREACHABLE else "")
    error.code = exc.code
    return error


def cmd_publish(args: argparse.Namespace) -> int:
    """Check every input first, then publish the articles to the raw topic; say what was sent, skipped, failed."""
    from rasd.inputs import SUFFIXES, scan
    from rasd.kafka_io import Delivery, ensure_topic, send_all
    from rasd.kafka_local import BrokerError

    settings = CommonSettings()
    topic = args.topic or settings.topics.raw
    found = scan(args.paths)
    for skipped in found.skipped:
        print(f"rasd publish: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    for failure in found.failed:
        print(f"rasd publish: {failure}", file=sys.stderr)
    invalid = found.invalid
    for item in invalid:
        fate = "invalid article" if args.strict else "invalid article, sent for the dead-letter topic"
        print(f"rasd publish: {item.where}: {fate}: {item.error}", file=sys.stderr)
    if found.failed:
        raise InputError(f"nothing sent: {len(found.failed)} input(s) could not be read (listed above)")
    if args.strict and invalid:
        files = len({item.path for item in invalid})
        raise InputError(f"nothing sent: {len(invalid)} invalid article(s) in {files} file(s) (--strict)")
    if not found.items:
        raise InputError(f"nothing to publish: no articles in {' '.join(map(str, args.paths))}",
                         f"expected {', '.join(SUFFIXES)} files or folders of them")

    async def send() -> list[Delivery]:
        try:
            created, partitions = await ensure_topic(_bootstrap(), topic, settings.partitions)
        except BrokerError as exc:
            raise CliError(f"{topic} does not exist and Kafka will not create it ({exc})",
                           f"create it with {settings.partitions} partitions (RASD_PARTITIONS), or publish to an "
                           "existing topic (--topic, RASD_TOPIC_RAW)") from None
        if created:
            print(f"rasd publish: created topic {topic} with {partitions} partition(s) (RASD_PARTITIONS)",
                  file=sys.stderr)
        elif partitions != settings.partitions:
            print(f"rasd publish: note: {topic} has {partitions} partition(s), RASD_PARTITIONS is "
                  f"{settings.partitions} (Rasd does not change an existing topic)", file=sys.stderr)
        return await send_all(_bootstrap(), topic, [item.raw for item in found.items])

    deliveries = asyncio.run(send())
    failed = [(item, d.error) for item, d in zip(found.items, deliveries, strict=True) if d.error is not None]
    for item, error in failed:
        print(f"rasd publish: {item.where}: not sent: {type(error).__name__}: {error}", file=sys.stderr)
    sent = len(deliveries) - len(failed)
    bad_sent = sum(1 for item, d in zip(found.items, deliveries, strict=True) if item.error and d.error is None)
    dlq = f" ({bad_sent} invalid: the normalizer dead-letters them to {settings.topics.dlq})" if bad_sent else ""
    print(f"published {sent} article(s) to {topic} from {found.files} file(s){dlq}; "
          f"skipped {len(found.skipped)}; failed {len(failed)}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_feed(args: argparse.Namespace) -> int:
    """Poll RSS/Atom feeds, publish their new items (rasd/feeds.py)."""
    from rasd.feeds import cmd_feed as run_feed

    return run_feed(args, _bootstrap())


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
    aliases = alias_index((e.id, (e.name, *e.ar, *e.en)) for e in gazetteer.entries)
    places = {e.id for e in gazetteer.entries if e.type == "LOC"}
    for flag, queries, among, kind in (("--entity", flt.entities, None, "nothing"),
                                       ("--place", flt.places, places.__contains__, "no place")):
        for query in unknown(queries, aliases, among):
            print(f"rasd alerts: warning: {flag} {query!r} names {kind} the gazetteer knows; only alerts whose own "
                  "entities carry exactly that name or id will pass (check the spelling)", file=sys.stderr)
    return flt, aliases, gazetteer.containers


def _alerts_start(args: argparse.Namespace) -> str:
    """Where a subscriber starts: as asked, else a private one at the latest alert (a live view: the retained
    history would bury what is new) and a new group at the beginning (a durable subscription misses nothing)."""
    start: str = args.start or ("beginning" if args.group else "latest")
    return start


async def _print_alerts(bootstrap: str, args: argparse.Namespace) -> None:
    from rasd.kafka_io import Follower, ensure_topic
    from rasd.kafka_local import BrokerError

    flt, aliases, containers = _alert_filter(args)
    settings = CommonSettings()
    topic, start = settings.topics.alerts, _alerts_start(args)
    # A missing topic would be auto-created by the consumer with the broker's default partitions; a subscriber
    # allowed only to read (BrokerError) waits for the pipeline to create it.
    with contextlib.suppress(BrokerError):
        await ensure_topic(bootstrap, topic, settings.partitions)
    printed = 0
    async with Follower(bootstrap, [topic], group_id=args.group, from_latest=start == "latest") as follower:
        where = "new alerts" if start == "latest" else "alerts from the beginning of the topic"
        first = "the next alert" if start == "latest" else "the beginning"
        how = (f"as group {args.group!r}: resuming where it stopped (a new group: from {first})" if args.group
               else f"{where}, privately: every alert, nothing shared or stored")
        print(f"rasd alerts: following {topic} {how} (Ctrl-C to stop)", file=sys.stderr, flush=True)
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


def _port_taken(port: int) -> bool:
    """Something already listens on 127.0.0.1:``port`` (SO_REUSEADDR: a port in TIME_WAIT is free for Kafka too)."""
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _broker_failed(exc: Exception, log: Path) -> CliError:
    """The local broker did not start: its first line, where to look, what to do (exit 3)."""
    lines = str(exc).splitlines() or [type(exc).__name__]
    cause = lines[0].split("): ")[0] + ")" if lines[0].startswith("Maven could not") else lines[0]  # not its command
    # The broker's own reason, from the log tail the error carries: the last line naming an exception or error (the
    # root cause of a Java stack trace, e.g. "Caused by: java.lang.ClassNotFoundException: ..."), else an ERROR line.
    reasons = [line.strip() for line in lines[1:] if re.match(r"(Caused by: )?[\w.$]*(Exception|Error)\b", line)]
    reasons = reasons or [line.strip() for line in lines[1:] if " ERROR " in line]
    if reasons:
        cause += f": {reasons[-1][:300]}"
    if "Maven" in cause or "not found on PATH" in cause:
        hint = "`make kafka` fetches the broker's jars (Java 17+ and Maven needed)"
    else:
        hint = f"the broker's log: {log}"
    error = CliError(f"the local Kafka broker did not start: {cause}",
                     f"{hint}; or set RASD_BOOTSTRAP_SERVERS to a running Kafka")
    error.code = EXIT_UNREACHABLE
    return error


@contextlib.contextmanager
def _broker(state: StateDir) -> Iterator[str]:
    settings = CommonSettings()
    configured = settings.bootstrap_servers
    if configured:
        yield configured
        return
    if settings.kafka_security_protocol != "PLAINTEXT":
        raise StartupError(f"RASD_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} but the embedded broker "
                           "speaks PLAINTEXT: set RASD_BOOTSTRAP_SERVERS to your Kafka, or unset RASD_KAFKA_*")
    from rasd.kafka_local import BrokerError, LocalKafka

    port = int(os.environ.get("RASD_LOCAL_KAFKA_PORT", DEFAULT_LOCAL_PORT))
    if _port_taken(port):
        error = CliError(f"the local Kafka broker cannot start: 127.0.0.1:{port} is taken (another rasd run, a "
                         "Kafka?)", "stop that, or set RASD_LOCAL_KAFKA_PORT to a free port, or "
                         f"RASD_BOOTSTRAP_SERVERS=127.0.0.1:{port} to use that Kafka")
        error.code = EXIT_UNREACHABLE
        raise error
    print(f"starting the local Apache Kafka broker on 127.0.0.1:{port} (first run fetches it with Maven)…")
    log = state.log_dir / "kafka.log"
    kafka = LocalKafka(data_dir=state.kafka_dir, port=port, log_file=log)
    try:
        kafka.start()
    except (BrokerError, OSError, subprocess.SubprocessError) as exc:  # start() has stopped what it started
        raise _broker_failed(exc, log) from None
    try:
        print(f"kafka ready at {kafka.bootstrap_servers} (data: {state.kafka_dir})")
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()


async def _publish_and_watch(bootstrap: str, raw_topic: str, raws: list[bytes], once: bool, timeout: float) -> int:
    """Publish ``raws``, print the alerts that follow; with ``once``, return when every one of them has reached its
    last topic.

    The topics are followed from their ends as they were before publishing: a reused state directory's broker still
    holds earlier runs' records (an earlier alert is not this run's, nor an earlier copy of a seed its verdict).

    An article's last topic is ``articles.duplicates``, ``articles.dlq`` or, for unique articles,
    the alerter having consumed it from ``articles.enriched`` (its consumer group has no lag left there).
    """
    from rasd.kafka_io import Follower, group_lag, message_key, publish
    from schemas.codec import article_id_of

    topics = Topics()
    alerter_group = SETTINGS_BY_SERVICE["alerter"]().app_id
    finished: set[str] = set()

    async def caught_up() -> bool:
        # Faust flushes its producer before committing offsets, so once the alerter has committed all of
        # articles.enriched every alert is in Kafka. (An unknown topic reads as None, never as caught up.)
        return await group_lag(bootstrap, alerter_group, topics.enriched) == 0

    followed = [topics.alerts, topics.duplicates, topics.enriched, topics.dlq]
    async with Follower(bootstrap, followed, from_latest=True) as follower:
        await publish(bootstrap, raw_topic, raws)
        print(f"published {len(raws)} article(s); alerts follow (Ctrl-C to stop)\n", flush=True)
        keys = {message_key(r) for r in raws}
        deadline = time.monotonic() + timeout
        while True:
            for record in await follower.poll():
                if record.topic == topics.alerts:
                    print(format_alert(decode(record.value, Alert)), flush=True)
                    continue
                if record.topic == topics.dlq:
                    letter = decode(record.value, DeadLetter)
                    print(f"[DLQ] {letter.stage}: {letter.error}", flush=True)
                # Enriched articles are keyed by story: the article is known by the id in the value.
                article = record.key if record.topic == topics.dlq else article_id_of(record.value)
                if article in keys:
                    finished.add(article)
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
    """In its state directory (locked): local broker if needed, the four workers, publish the seeds, show alerts
    live."""
    from rasd.runner import stop_on_signals
    from rasd.state import describe, locked, prepare, resolve_state_dir

    state = resolve_state_dir(args.state_dir)
    # The lock first: two runs on one state directory would share (and corrupt) the broker's data; --fresh only
    # empties a directory no other run uses.
    try:
        with locked(state), stop_on_signals():  # SIGTERM and SIGHUP stop everything as Ctrl-C does
            print(describe(state, prepare(state, fresh=args.fresh)), flush=True)
            return _run(args, state)
    except KeyboardInterrupt:  # before the workers ran (starting the broker): what was started is stopped
        print("\nstopped", flush=True)
        return 0


def _run(args: argparse.Namespace, state: StateDir) -> int:
    from rasd.inputs import read_articles
    from rasd.kafka_local import create_topics
    from rasd.runner import Workers

    with _broker(state) as bootstrap:
        settings = CommonSettings()
        asyncio.run(create_topics(bootstrap, settings.topics.all(), partitions=settings.partitions))
        webhook = ("webhook",) if os.environ.get("RASD_WEBHOOK_URLS", "").strip() else ()  # only when configured
        workers = Workers(bootstrap, log_dir=state.log_dir, services=(*SERVICES, *webhook),
                          extra_env={"RASD_DATA_DIR": str(state.data_dir)})
        closing = contextlib.ExitStack()  # rasd web, stopped before the workers
        try:
            workers.start()
            workers.wait_ready()
            for proc in workers.procs:
                print(f"{proc.service:12s} metrics: {proc.metrics_url}   log: {proc.log_path}")
            from rasd.web import desk_for_run

            closing.enter_context(desk_for_run(bootstrap, state.log_dir))
            raws = list(read_articles(args.paths or [PROJECT_ROOT / "seeds"]))
            return asyncio.run(_publish_and_watch(bootstrap, settings.topics.raw, raws, args.once, args.timeout))
        except KeyboardInterrupt:
            print("\nstopping…")
            return 0
        finally:
            closing.close()
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


# ---------------------------------------------------------------- webhook


def cmd_webhook_replay(args: argparse.Namespace) -> int:
    """Send the webhook sink's dead letters again (services/webhook/replay.py); exit 1 if any failed again."""
    from services.common.security import check_access, kafka_auth
    from services.common.settings import WebhookSettings
    from services.webhook.replay import replay

    settings = WebhookSettings()
    bootstrap = _bootstrap()
    asyncio.run(check_access(bootstrap, kafka_auth(settings)))
    report = asyncio.run(replay(settings, bootstrap, group=args.group))
    for line in report.lines:
        print(f"rasd webhook replay: {line}", file=sys.stderr)
    print(report.summary(settings.topics.webhook_dlq), file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rasd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="local broker, the four services, publish seeds/, print alerts live")
    run.add_argument("paths", nargs="*", type=Path, help="articles to publish (default: seeds/)")
    run.add_argument("--once", action="store_true", help="exit when every published article is through")
    run.add_argument("--timeout", type=float, default=300.0, help="with --once: give up after this many seconds")
    run.add_argument("--state-dir", type=Path, default=None,
                     help="the broker's data, the services' state and the logs, kept for the next run (default: "
                          "RASD_DATA_DIR, else $XDG_STATE_HOME/rasd, else ~/.local/state/rasd)")
    run.add_argument("--fresh", action="store_true",
                     help="empty the state directory first: no topics, no dedup index, no stories from earlier runs")
    run.set_defaults(func=cmd_run)

    pub = sub.add_parser("publish", help="check, then publish .txt/.json/.jsonl articles and RSS/Atom feed files "
                                        "(.xml/.rss/.atom) to the raw topic")
    pub.add_argument("paths", nargs="+", type=Path, help="files, or folders (read recursively)")
    pub.add_argument("--topic", help="topic (default: RASD_TOPIC_RAW or articles.raw)")
    pub.add_argument("--strict", action="store_true",
                     help="send nothing if any article is invalid (default: send it; the normalizer dead-letters it)")
    pub.set_defaults(func=cmd_publish)

    from rasd.feeds import add_parser as add_feed_parser

    add_feed_parser(sub, cmd_feed)

    alerts = sub.add_parser("alerts", help="subscribe to alerts and print them")
    alerts.add_argument("--min-severity", choices=list(SEVERITY_RANK), default="low")
    alerts.add_argument("--entity", action="append", default=[],
                        help="only alerts naming this person or place: canonical id or AR/EN name (repeatable)")
    alerts.add_argument("--place", action="append", default=[], help="only alerts naming this place (repeatable)")
    alerts.add_argument("--language", action="append", default=[], help="only alerts in this language, e.g. ar")
    alerts.add_argument("--json", action="store_true", help="one JSON alert per line")
    alerts.add_argument("--group", default=None,
                        help="share and resume: a consumer group whose members split the alerts and which resumes "
                             "where it stopped (default: a private position that sees every alert)")
    start = alerts.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", dest="start", action="store_const", const="beginning",
                       help="start at the oldest retained alert (default with a new --group)")
    start.add_argument("--from-latest", dest="start", action="store_const", const="latest",
                       help="start with the next alert (default without --group); a group that has a position "
                            "resumes from it either way")
    alerts.add_argument("--limit", type=int, default=0, help="exit after printing this many alerts")
    alerts.set_defaults(func=cmd_alerts)

    worker = sub.add_parser("worker", help="run one service as a Faust worker")
    worker.add_argument("name", choices=(*SERVICES, *OPTIONAL_SERVICES))
    worker.add_argument("--metrics-port", type=int, default=None, help="override RASD_<SERVICE>_METRICS_PORT")
    worker.add_argument("--tag", default="", help="suffix for this worker's state dir (several on one host)")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--broker-wait", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait at start for a Kafka that cannot be reached before exiting (code 3)")
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

    webhook = sub.add_parser("webhook", help="the webhook sink's tools: replay its dead letters")
    webhook_sub = webhook.add_subparsers(dest="action", required=True)
    replay = webhook_sub.add_parser("replay", help="send the dead letters of alerts.webhook.dlq again (same alert id)")
    replay.add_argument("--group", default=None,
                        help="consumer group keeping the replay's position (default: <app id prefix>-webhook-replay)")
    replay.set_defaults(func=cmd_webhook_replay)

    from rasd.web import add_parser as add_web

    add_web(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    if args.command in ("publish", "alerts", "run", "web", "webhook"):  # own Kafka clients (a worker has Faust's logs)
        quiet_kafka_logs(args.command)
    try:
        result: int = args.func(args)
    except CliError as exc:  # rasd.errors: one line (cause, then a hint), its exit code
        print(exc.line(args.command), file=sys.stderr)
        return exc.code
    except StartupError as exc:  # Kafka refused us, a setting cannot work: one line, no traceback
        print(_reach_hint(exc).line(args.command), file=sys.stderr)
        return exc.code
    except ValidationError as exc:  # RASD_* settings that do not validate
        print(f"rasd {args.command}: {settings_error_line(exc)}", file=sys.stderr)
        return 2
    return result
