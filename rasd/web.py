"""``rasd web``: the alert desk in the browser (docs/web.md).

An aiohttp server (aiohttp is already installed as Faust's web layer: no new dependency) on 127.0.0.1 that reads the
``alerts`` topic with a private position (no consumer group: every desk sees every alert; from the beginning of
retention), keeps the last ``RASD_WEB_KEEP`` alerts in memory and serves:

* ``/``                 the page (``rasd/web_static``: vendored files, no build step, no third-party requests);
* ``/api/alerts``       the recent alerts, newest first, with ``rasd alerts``' filters (``min_severity``, ``entity``,
                        ``place``, ``language``; repeat a parameter for alternatives) and ``story`` (one story_id);
* ``/events``           the same, as Server-Sent Events: the retained alerts that pass, oldest first, then each new
                        one as it arrives (``event: alert``, ``id:`` its sequence number; ``Last-Event-ID`` resumes).

Every response carries a strict Content-Security-Policy (scripts and styles from this origin only, no inline code, no
other origin contacted) and the ``Host`` header must name the address the server listens on (DNS rebinding).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from rasd.alert_filters import AlertFilter, Containers, alias_index, passes
from schemas.codec import DecodeError, decode
from schemas.models import Alert
from services.alerter.core import SEVERITY_RANK

log = logging.getLogger("rasd.web")
STATIC = Path(__file__).resolve().parent / "web_static"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_KEEP = 1000
HEARTBEAT_S = 15.0

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass
class Names:
    """The gazetteer's names and containment, loaded once on the first entity/place filter (~1.6 s)."""

    aliases: dict[str, frozenset[str]] = field(default_factory=dict)
    containers: Containers | None = None
    loaded: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self) -> None:
        async with self._lock:
            if self.loaded:
                return
            from services.entities.core import Gazetteer

            gazetteer = await asyncio.get_running_loop().run_in_executor(None, Gazetteer.load)
            self.aliases = alias_index((e.id, (e.name, *e.ar, *e.en)) for e in gazetteer.entries)
            self.containers = gazetteer.containers
            self.loaded = True


class AlertStore:
    """The last ``keep`` alerts, each with a sequence number, and the live subscribers' queues."""

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        self.alerts: deque[tuple[int, Alert]] = deque(maxlen=keep)
        self.seq = 0
        self.subscribers: set[asyncio.Queue[tuple[int, Alert] | None]] = set()

    def add(self, alert: Alert) -> None:
        self.seq += 1
        self.alerts.append((self.seq, alert))
        for queue in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled browser loses alerts, not the server memory
                queue.put_nowait((self.seq, alert))

    def close(self) -> None:
        """End every live stream (the server is stopping): each handler returns on the ``None``."""
        for queue in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def since(self, after: int) -> list[tuple[int, Alert]]:
        return [(s, a) for s, a in self.alerts if s > after]


def filter_from_query(query: Any) -> tuple[AlertFilter, str | None]:
    """``min_severity``/``severity``, ``entity``, ``place``, ``language`` (repeatable) and ``story`` -> the filter;
    raises ValueError on an unknown severity."""
    def values(name: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in query.getall(name, []) if v.strip())

    severity = query.get("min_severity") or query.get("severity") or "low"
    flt = AlertFilter(severity, values("entity"), values("place"), values("language"))
    story = query.get("story") or None
    return flt, story


class Desk:
    """The application state: store, gazetteer names, the consumer task."""

    def __init__(self, bootstrap: str, topic: str, keep: int = DEFAULT_KEEP) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.store = AlertStore(keep)
        self.names = Names()
        self.ready = asyncio.Event()

    async def consume(self) -> None:
        """Follow the alerts topic privately from the beginning; reconnects are aiokafka's."""
        from rasd.kafka_io import Follower, ensure_topic
        from rasd.kafka_local import BrokerError
        from services.common.settings import CommonSettings

        while True:
            try:
                with contextlib.suppress(BrokerError):
                    await ensure_topic(self.bootstrap, self.topic, CommonSettings().partitions)
                async with Follower(self.bootstrap, [self.topic], group_id=None, from_latest=False) as follower:
                    self.ready.set()
                    while True:
                        for record in await follower.poll():
                            try:
                                self.store.add(decode(record.value, Alert))
                            except DecodeError as exc:
                                log.warning("undecodable alert at offset %s: %s", record.offset, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the page stays up; retry the broker
                log.warning("alerts consumer: %s; retrying in 5 s", exc)
                await asyncio.sleep(5)

    async def matcher(self, flt: AlertFilter, story: str | None) -> Callable[[Alert], bool]:
        if flt.entities or flt.places:
            await self.names.load()
        aliases, containers = self.names.aliases, self.names.containers

        def ok(alert: Alert) -> bool:
            return (story is None or alert.story_id == story) and passes(alert, flt, aliases, containers)
        return ok


def alert_json(seq: int, alert: Alert) -> dict[str, Any]:
    return {"seq": seq, **alert.model_dump(mode="json")}


DESK: web.AppKey[Desk] = web.AppKey("desk", Desk)


@web.middleware
async def security(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    allowed = request.app.get(ALLOWED_HOSTS, frozenset())
    if allowed and request.host.lower() not in allowed:
        return web.Response(status=421, text="wrong Host header\n", headers=SECURITY_HEADERS)
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response


ALLOWED_HOSTS: web.AppKey[frozenset[str]] = web.AppKey("allowed_hosts", frozenset)


async def _query_matcher(request: web.Request) -> Callable[[Alert], bool] | web.Response:
    """The alert test of the request's filters (query string), or a 400 response naming the bad filter."""
    try:
        flt, story = filter_from_query(request.query)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return await request.app[DESK].matcher(flt, story)


async def api_alerts(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    ok = await _query_matcher(request)
    if isinstance(ok, web.Response):
        return ok
    limit = max(1, min(int(request.query.get("limit", "200") or 200), desk.store.alerts.maxlen or DEFAULT_KEEP))
    chosen = [alert_json(s, a) for s, a in reversed(desk.store.alerts) if ok(a)][:limit]
    return web.Response(body=orjson.dumps({"alerts": chosen, "severities": list(SEVERITY_RANK)}),
                        content_type="application/json")


def _sse(seq: int, alert: Alert) -> bytes:
    return b"event: alert\nid: %d\ndata: %s\n\n" % (seq, orjson.dumps(alert_json(seq, alert)))


async def events(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK]
    ok = await _query_matcher(request)
    if isinstance(ok, web.Response):
        return ok
    try:
        after = int(request.headers.get("Last-Event-ID", "0") or 0)
    except ValueError:
        after = 0
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
        **SECURITY_HEADERS})
    await response.prepare(request)
    queue: asyncio.Queue[tuple[int, Alert] | None] = asyncio.Queue(maxsize=1000)
    desk.store.subscribers.add(queue)  # before the backlog: nothing falls between the two
    try:
        await response.write(b"retry: 2000\n\n")
        last = after
        for seq, alert in desk.store.since(after):
            if ok(alert):
                await response.write(_sse(seq, alert))
            last = seq
        await response.write(b"event: ready\ndata: {}\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:  # the server is stopping
                break
            seq, alert = item
            if seq > last and ok(alert):
                await response.write(_sse(seq, alert))
            last = max(last, seq)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        desk.store.subscribers.discard(queue)
    return response


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})


def make_app(desk: Desk, *, allowed_hosts: Iterable[str] = (), consume: bool = True) -> web.Application:
    """The application; ``consume=False`` (tests) serves what is put in ``desk.store`` without Kafka."""
    app = web.Application(middlewares=[security])
    app[DESK] = desk
    app[ALLOWED_HOSTS] = frozenset(h.lower() for h in allowed_hosts)
    app.router.add_get("/", index)
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/events", events)
    app.router.add_static("/static/", STATIC, follow_symlinks=False, show_index=False)

    async def background(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(desk.consume())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    if consume:
        app.cleanup_ctx.append(background)
    return app


def host_and_port() -> tuple[str, int]:
    return os.environ.get("RASD_WEB_HOST", DEFAULT_HOST), int(os.environ.get("RASD_WEB_PORT", DEFAULT_PORT))


def url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def _allowed_hosts(host: str, port: int) -> list[str]:
    """Host headers a browser sends for this server; empty (no check) when bound to all interfaces."""
    if host in ("0.0.0.0", "::", ""):
        return []
    names = {host, "localhost"} if host in ("127.0.0.1", "::1", "localhost") else {host}
    names |= {"127.0.0.1"} if host == "localhost" else set()
    return [f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in names]


async def serve(bootstrap: str, host: str, port: int, keep: int) -> None:
    from services.common.settings import CommonSettings

    desk = Desk(bootstrap, CommonSettings().topics.alerts, keep)
    runner = web.AppRunner(make_app(desk, allowed_hosts=_allowed_hosts(host, port)), access_log=None,
                           shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"rasd web: the alert desk at {url(host, port)} (alerts from {bootstrap}, topic {desk.topic})",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or rasd run's stop: end the streams, then the server
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        desk.store.close()
        await runner.cleanup()


def cmd_web(args: argparse.Namespace, bootstrap: str) -> int:
    host, port = host_and_port()
    host, port = args.host or host, args.port or port
    keep = args.keep or int(os.environ.get("RASD_WEB_KEEP", DEFAULT_KEEP))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="rasd web: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(bootstrap, host, port, keep))
    return 0


def add_parser(sub: Any) -> None:
    """The ``web`` subcommand (called from rasd.cli.build_parser)."""
    web_cmd = sub.add_parser("web", help="the alert desk in the browser (127.0.0.1:8765; docs/web.md)")
    web_cmd.add_argument("--host", default=None, help=f"interface (default: RASD_WEB_HOST or {DEFAULT_HOST})")
    web_cmd.add_argument("--port", type=int, default=None, help=f"port (default: RASD_WEB_PORT or {DEFAULT_PORT})")
    web_cmd.add_argument("--keep", type=int, default=None,
                         help=f"alerts kept in memory (default: RASD_WEB_KEEP or {DEFAULT_KEEP})")

    def run(args: argparse.Namespace) -> int:
        from rasd.cli import _bootstrap

        return cmd_web(args, _bootstrap())

    web_cmd.set_defaults(func=run)


class WebProcess:
    """``rasd web`` as a subprocess of ``rasd run`` (and the tests): its URL, log file and stop."""

    def __init__(self, bootstrap: str, *, log_path: Path, env: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        import subprocess

        base = {**os.environ, **(env or {}), "RASD_BOOTSTRAP_SERVERS": bootstrap}
        self.host = base.get("RASD_WEB_HOST", DEFAULT_HOST)
        self.port = port or int(base.get("RASD_WEB_PORT", DEFAULT_PORT))
        base["RASD_WEB_PORT"] = str(self.port)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = log_path.open("ab")
        from rasd.runner import die_with_parent  # gone with rasd run, even if it is killed (issue 16)

        self.proc = subprocess.Popen([sys.executable, "-m", "rasd", "web"], env=base, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent())

    @property
    def url(self) -> str:
        return url(self.host, self.port)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the page answers; raise with the log's tail if the server exits or times out."""
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rasd web exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "api/alerts", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rasd web not ready:\n{self.log_path.read_text()[-3000:]}") from None
                time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> int | None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


@contextlib.contextmanager
def desk_for_run(bootstrap: str, log_dir: Path) -> Iterator[WebProcess | None]:
    """``rasd run``'s alert desk: started, its URL printed, stopped on exit.  A desk that cannot start (its port is
    taken, ...) is one warning line, not the end of the pipeline."""
    desk: WebProcess | None = WebProcess(bootstrap, log_path=log_dir / "web.log")
    assert desk is not None
    try:
        desk.wait_ready()
        print(f"{'web':12s} the alert desk: {desk.url}   log: {desk.log_path}", flush=True)
    except (RuntimeError, TimeoutError) as exc:
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        print(f"{'web':12s} the alert desk did not start ({last}); see {desk.log_path} — RASD_WEB_PORT chooses "
              "another port", flush=True)
        desk.stop()
        desk = None
    try:
        yield desk
    finally:
        if desk is not None:
            desk.stop()
