"""An embedded, single-node Apache Kafka broker (KRaft) for local development and integration tests.

Why this exists: the machines this project runs on have no Docker and no internet besides package
registries, so the broker is fetched as plain jars from Maven Central (``rasd/kafka/pom.xml``) and run
as a ``java`` subprocess. One JVM plays both KRaft roles (broker + controller), listens on 127.0.0.1
only and is sized for a 2-core machine.

Typical use::

    with LocalKafka() as kafka:
        app = faust.App("x", broker=f"kafka://{kafka.bootstrap_servers}")

or, for a developer shell, ``python -m rasd.kafka_local`` (prints the bootstrap address, Ctrl-C stops).

``LocalKafka(security=BrokerSecurity(...))`` adds TLS listeners next to the PLAINTEXT one: SASL_SSL (PLAIN and
SCRAM-SHA-512 users) and, with a client CA, SSL requiring a client certificate — what the tests of the clients'
``RASD_KAFKA_*`` settings run against (tests/integration/test_kafka_security.py).

The Kafka version is the single constant :data:`KAFKA_VERSION`; it is always passed to Maven as
``-Dkafka.version`` (the POM's default is kept equal, and a test checks that).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

if TYPE_CHECKING:
    from services.common.security import KafkaSecuritySettings

__all__ = [
    "KAFKA_VERSION",
    "BrokerError",
    "BrokerSecurity",
    "LocalKafka",
    "create_topics",
    "default_cache_dir",
    "ensure_broker_jars",
    "wait_for_broker",
]

#: The Apache Kafka release run by :class:`LocalKafka`. 4.4.0 is the newest kafka_2.13 on Maven Central and
#: was checked against aiokafka 0.14.0 and faust-streaming 0.15.3 (produce/consume, consumer groups,
#: admin create_topics, a faust agent + Table with its changelog topic).
KAFKA_VERSION: str = "4.4.0"

_PACKAGE_DIR = Path(__file__).resolve().parent
#: The POM whose only job is to resolve the broker's runtime classpath.
POM_PATH: Path = _PACKAGE_DIR / "kafka" / "pom.xml"
_MARKER_NAME = ".rasd-kafka-jars-complete"
_JVM_HEAP = ("-Xms256m", "-Xmx768m")
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 20.0
_LOG_TAIL_LINES = 60

_T = TypeVar("_T")


class BrokerError(RuntimeError):
    """Fetching, formatting, starting or reaching the local broker failed (message carries the log tail)."""


# --------------------------------------------------------------------------------------------- jars


def _project_root() -> Path:
    """The repo root (where pyproject.toml lives); the jar cache goes under its git-ignored ``.cache/``."""
    root = _PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file():
        return root
    # Installed as a plain (non-editable) package: there is no repo, so use the user's cache dir.
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rasd"


def default_cache_dir() -> Path:
    """Where the broker jars go: ``$RASD_CACHE_DIR/kafka-<version>`` or ``<repo>/.cache/kafka-<version>``.

    The version is part of the name so that bumping :data:`KAFKA_VERSION` never mixes two classpaths.
    """
    base = os.environ.get("RASD_CACHE_DIR")
    parent = Path(base) if base else _project_root() / ".cache"
    return parent / f"kafka-{KAFKA_VERSION}"


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(f"`{name}` was not found on PATH; the local Kafka broker needs Java 17+ and Maven")
    return path


def ensure_broker_jars(cache_dir: Path | None = None) -> Path:
    """Resolve the broker's runtime jars with Maven once and return the ``libs`` directory.

    A marker file (holding the version) is written only after Maven succeeded, so an interrupted fetch is
    redone rather than leaving a half classpath that fails later in a confusing way. A file lock keeps two
    concurrent test processes from running Maven into the same directory.
    """
    cache = (cache_dir or default_cache_dir()).resolve()
    libs = cache / "libs"
    marker = cache / _MARKER_NAME
    if _marker_ok(marker, libs):
        return libs
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _marker_ok(marker, libs):  # another process finished it while we waited
            return libs
        mvn = _require_tool("mvn")
        _require_tool("java")
        staging = cache / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM_PATH),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
            f"-Dkafka.version={KAFKA_VERSION}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not any(staging.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
            raise BrokerError(
                f"Maven could not fetch the Kafka {KAFKA_VERSION} jars (exit {proc.returncode}): "
                f"{' '.join(cmd)}\n--- mvn output (tail) ---\n{_tail(proc.stdout + proc.stderr)}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(KAFKA_VERSION + "\n")
    return libs


def _marker_ok(marker: Path, libs: Path) -> bool:
    try:
        return marker.read_text().strip() == KAFKA_VERSION and libs.is_dir()
    except OSError:
        return False


# -------------------------------------------------------------------------------------------- admin


def _run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even if the caller is already inside an event loop.

    ``LocalKafka.start()`` is sync (it is used from sync pytest fixtures and ``__main__``), but it may also be
    called from async code, where ``asyncio.run`` would refuse; a short-lived thread sidesteps that.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[_T] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=runner, name="rasd-kafka-probe", daemon=True)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _probe(bootstrap: str, timeout: float, auth: Mapping[str, Any] | None = None) -> bool:
    """One metadata round trip; True once the broker answers *and* lists itself (i.e. it is unfenced).

    ``auth``: aiokafka security options (a TLS listener, a SASL login) for the round trip.
    """
    from aiokafka.client import AIOKafkaClient

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:  # cheap TCP check first: aiokafka logs an ERROR line for every refused connection
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError, ValueError):
        return False
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout * 1000)), **(auth or {})
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        await client.close()


async def wait_for_broker(bootstrap: str, timeout: float) -> None:
    """Poll ``bootstrap`` with metadata requests until it answers, or raise :class:`BrokerError`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerError(f"Kafka at {bootstrap} was not ready within {timeout:.0f}s")
        if await _probe(bootstrap, min(5.0, remaining)):
            return
        await asyncio.sleep(0.25)


async def create_topics(
    bootstrap: str, names: list[str], partitions: int = 1, *, security: KafkaSecuritySettings | None = None
) -> None:
    """Create topics (replication factor 1) if missing; an existing topic is left as it is.

    Idempotent on purpose: services and tests call it at start-up without knowing what already exists.
    aiokafka reports per-topic errors in the response instead of raising, so they are checked here.
    SASL/TLS from ``security``, else ``RASD_KAFKA_*``; a refused login is one clear line (KafkaAccessError).
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    from services.common.security import check_access, kafka_auth

    if not names:
        return
    auth = kafka_auth(security)
    await check_access(bootstrap, auth)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **auth)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in names]
        )
        failures: list[str] = []
        for entry in response.topic_errors:
            topic, code = entry[0], entry[1]
            if code == 0:
                continue
            err = for_code(code)
            if err is TopicAlreadyExistsError:
                continue
            message = entry[2] if len(entry) > 2 else ""
            failures.append(f"{topic}: {err.__name__} {message or ''}".rstrip())
        if failures:
            raise BrokerError("create_topics failed: " + "; ".join(failures))
    finally:
        await admin.close()


# ------------------------------------------------------------------------------------------- broker


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_port_except(taken: set[int]) -> int:
    port = _free_port()
    while port in taken:
        port = _free_port()
    return port


def _random_cluster_id() -> str:
    """A Kafka ``Uuid`` string (URL-safe base64 of 16 bytes, no padding), as ``kafka-storage random-uuid``.

    Generated here to save a JVM start; Kafka rejects ids that start with '-', so those are redrawn.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cid.startswith("-"):
            return cid


_LOG4J2_CONFIG = """\
# Quiet log4j2 config for the rasd local broker: warnings only, plus the start/stop lines people look for.
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
logger.brokerserver.name = kafka.server.BrokerServer
logger.brokerserver.level = INFO
logger.controllerserver.name = kafka.server.ControllerServer
logger.controllerserver.level = INFO
"""

_live: set[LocalKafka] = set()
_live_lock = threading.Lock()


def _stop_all_live() -> None:
    """atexit guard: a crashed or interrupted test run must not leave a JVM holding ports and memory."""
    with _live_lock:
        instances = list(_live)
    for instance in instances:
        try:
            instance.stop()
        except Exception as exc:  # best effort at interpreter exit
            print(f"rasd.kafka_local: failed to stop broker: {exc}", file=sys.stderr)


atexit.register(_stop_all_live)


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux only: have the kernel SIGTERM the JVM if this Python process dies without running atexit.

    atexit does not run on SIGKILL or an unhandled SIGTERM (e.g. a CI job being killed), which would leave
    a JVM behind. The signal fires when the *thread* that forked exits, so it is only used from the main
    thread (callers from other threads rely on atexit and stop()).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return preexec


_SAFE_CREDENTIAL = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class BrokerSecurity:
    """TLS listeners a :class:`LocalKafka` opens next to its PLAINTEXT one (which the broker itself uses).

    * ``SASL_SSL``: TLS with the ``keystore``'s certificate, then a SASL login of one of ``users`` (name →
      password) with PLAIN (a JAAS config) or SCRAM-SHA-512 (credentials written into the KRaft storage when it
      is formatted: a re-used, already formatted data dir keeps the users it was formatted with);
    * ``SSL``, only with ``client_ca``: TLS that requires a client certificate signed by that CA (PEM), no SASL.

    The keystore is PKCS12 (key and certificate chain); its certificate should name 127.0.0.1 (subjectAltName)
    for clients that check host names.  Names and passwords are limited to ``[A-Za-z0-9._-]``.
    """

    keystore: Path
    keystore_password: str
    users: Mapping[str, str] = field(default_factory=dict)
    client_ca: Path | None = None

    def __post_init__(self) -> None:
        for text in (self.keystore_password, *self.users, *self.users.values()):
            if not _SAFE_CREDENTIAL.match(text):
                raise BrokerError("BrokerSecurity names and passwords must match [A-Za-z0-9._-]+")


class LocalKafka:
    """A single-node KRaft Kafka broker (broker+controller in one JVM) bound to 127.0.0.1.

    ``data_dir=None`` uses a temp dir that is deleted on :meth:`stop`; a given ``data_dir`` is kept (and
    re-used: an already formatted storage is started as is). ``port``/``controller_port`` 0 pick free ports.
    ``security`` adds SASL_SSL (and SSL) listeners on free ports (:class:`BrokerSecurity`).
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int = 0,
        controller_port: int = 0,
        log_file: Path | None = None,
        *,
        cache_dir: Path | None = None,
        ready_timeout: float = _READY_TIMEOUT_S,
        security: BrokerSecurity | None = None,
    ) -> None:
        self._requested_data_dir = data_dir
        self._requested_port = port
        self._requested_controller_port = controller_port
        self._requested_log_file = log_file
        self._cache_dir = cache_dir
        self._ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._temp_dir: Path | None = None
        self._log_handle: Any = None
        self.data_dir: Path | None = None
        self.log_file: Path | None = None
        self.port = 0
        self.controller_port = 0
        self.security = security
        self.sasl_ssl_port = 0  # with ``security``
        self.ssl_port = 0  # with ``security.client_ca``

    # -- public API ---------------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT``; only meaningful after :meth:`start`."""
        if not self.port:
            raise BrokerError("LocalKafka is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT`` of the SASL_SSL listener (``security`` given, after :meth:`start`)."""
        if not self.sasl_ssl_port:
            raise BrokerError("LocalKafka has no SASL_SSL listener (started with security=...?)")
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def ssl_bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT`` of the client-certificate SSL listener (``security.client_ca`` given, started)."""
        if not self.ssl_port:
            raise BrokerError("LocalKafka has no SSL listener (started with security.client_ca?)")
        return f"127.0.0.1:{self.ssl_port}"

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs (tests use it to prove :meth:`stop` really ended it)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Fetch jars if needed, write config, format storage, launch the JVM and wait until it serves."""
        if self._proc is not None:
            raise BrokerError("LocalKafka already started")
        libs = ensure_broker_jars(self._cache_dir)
        java = _require_tool("java")
        if self._requested_data_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="rasd-kafka-"))
            data_dir = self._temp_dir
        else:
            data_dir = self._requested_data_dir.resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        try:
            self.port = self._requested_port or _free_port()
            self.controller_port = self._requested_controller_port or _free_port()
            while self.controller_port == self.port:
                self.controller_port = _free_port()
            if self.security is not None:
                taken = {self.port, self.controller_port}
                self.sasl_ssl_port = _free_port_except(taken)
                if self.security.client_ca is not None:
                    self.ssl_port = _free_port_except({*taken, self.sasl_ssl_port})
            self.log_file = (self._requested_log_file or data_dir / "broker.log").resolve()
            self.log_file.parent.mkdir(parents=True, exist_ok=True)

            config = data_dir / "server.properties"
            config.write_text(self._server_properties(data_dir / "logs"))
            log4j = data_dir / "log4j2.properties"
            log4j.write_text(_LOG4J2_CONFIG)
            jvm = [
                java,
                *_JVM_HEAP,
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                f"{libs}/*",
            ]

            self._format_storage(jvm, config, data_dir / "logs")
            self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - lives as long as the JVM
            self._proc = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                cwd=data_dir,
                # Own session: a Ctrl-C in the developer's terminal goes to Python, which stops the JVM
                # in order, instead of SIGINT racing into both.
                start_new_session=True,
                preexec_fn=_parent_death_signal() if threading.current_thread() is threading.main_thread() else None,
            )
            with _live_lock:
                _live.add(self)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM (Kafka shuts down cleanly), SIGKILL after ~20 s; then remove a temp data dir."""
        proc, self._proc = self._proc, None
        with _live_lock:
            _live.discard(self)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Last lines of the broker log (used in error messages)."""
        if self.log_file is None or not self.log_file.exists():
            return "(no broker log)"
        return _tail(self.log_file.read_text(errors="replace"), lines)

    # -- internals ----------------------------------------------------------------------------------

    def _server_properties(self, log_dir: Path) -> str:
        """Single-node settings: replication 1 everywhere, tiny internal topics, no rebalance delay."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(log_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            # Internal topics: one replica, few partitions, so the first consumer group/transaction is
            # quick to set up on a 2-core machine.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Small segments and a small cleaner buffer: dev/test data is small; keep disk and heap modest.
            "log.segment.bytes": str(16 * 1024 * 1024),
            "log.retention.hours": "24",
            "log.retention.check.interval.ms": "60000",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.cleaner.threads": "1",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "4",
        }
        if self.security is not None:
            props.update(self._security_properties(self.security))
        header = "# Written by rasd.kafka_local.LocalKafka; regenerated on every start.\n"
        return header + "".join(f"{k}={v}\n" for k, v in props.items())

    def _security_properties(self, security: BrokerSecurity) -> dict[str, str]:
        """The TLS listeners: SASL_SSL (PLAIN and SCRAM-SHA-512) and, with a client CA, SSL with client certificates."""
        listeners = {"SASL_SSL": self.sasl_ssl_port, **({"SSL": self.ssl_port} if self.ssl_port else {})}
        extra = ",".join(f"{name}://127.0.0.1:{port}" for name, port in listeners.items())
        plain_users = "".join(f' user_{name}="{password}"' for name, password in security.users.items())
        props = {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port},{extra}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},{extra}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
            + ",".join(f"{name}:{name}" for name in listeners),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(security.keystore.resolve()),
            "ssl.keystore.password": security.keystore_password,
            "ssl.key.password": security.keystore_password,
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "listener.name.sasl_ssl.plain.sasl.jaas.config":
                f"org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        }
        if security.client_ca is not None:
            props |= {
                "listener.name.ssl.ssl.client.auth": "required",
                "listener.name.ssl.ssl.truststore.type": "PEM",
                "listener.name.ssl.ssl.truststore.location": str(security.client_ca.resolve()),
            }
        return props

    def _format_storage(self, jvm: list[str], config: Path, log_dir: Path) -> None:
        """Format the KRaft storage once (a re-used data dir that is already formatted is kept).

        Static quorum (``controller.quorum.voters``) so plain ``format`` works on 3.9 and all of 4.x; the
        ports are re-written on every start, which the static voter set tolerates.
        """
        if (log_dir / "meta.properties").exists():
            return
        cmd = [*jvm, "kafka.tools.StorageTool", "format", "-t", _random_cluster_id(), "-c", str(config)]
        for name, password in (self.security.users.items() if self.security is not None else ()):
            cmd += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            if self.log_file is not None:  # the broker's log tells what went wrong, as for a failed start
                with open(self.log_file, "a") as log:
                    log.write(f"kafka StorageTool format failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
            raise BrokerError(
                f"kafka StorageTool format failed (exit {proc.returncode})\n{_tail(proc.stdout + proc.stderr)}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise BrokerError(f"Kafka JVM exited during start-up (exit {code})\n{self.log_tail()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(
                    f"Kafka did not become ready on {self.bootstrap_servers} within "
                    f"{self._ready_timeout:.0f}s\n{self.log_tail()}"
                )
            if _run_blocking(_probe(self.bootstrap_servers, min(3.0, remaining))) and self._secure_ready(remaining):
                return
            time.sleep(0.25)

    def _secure_ready(self, remaining: float) -> bool:
        """The SASL_SSL listener logs a SCRAM user in (their credentials are in the metadata): ready for tests."""
        if self.security is None or not self.security.users:
            return True
        import ssl

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # a readiness probe on 127.0.0.1 only
        name, password = next(iter(self.security.users.items()))
        auth = {"security_protocol": "SASL_SSL", "ssl_context": context, "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": name, "sasl_plain_password": password}
        return _run_blocking(_probe(self.sasl_ssl_bootstrap_servers, min(3.0, remaining), auth))


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run a broker in the foreground for development; Ctrl-C or SIGTERM stops it cleanly."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rasd.kafka_local", description=main.__doc__)
    parser.add_argument("--port", type=int, default=9092, help="PLAINTEXT port (0 = any free port)")
    parser.add_argument("--controller-port", type=int, default=0, help="KRaft controller port (0 = free)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep data here (default: temp dir)")
    parser.add_argument("--log-file", type=Path, default=None, help="broker log (default: <data-dir>)")
    parser.add_argument("--fetch-only", action="store_true", help="only fetch the broker jars with Maven")
    args = parser.parse_args(argv)
    if args.fetch_only:
        try:
            print(f"Kafka {KAFKA_VERSION} jars: {ensure_broker_jars()}", flush=True)
        except BrokerError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return 0

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    kafka = LocalKafka(args.data_dir, args.port, args.controller_port, args.log_file)
    try:
        kafka.start()
        print(f"Kafka {KAFKA_VERSION} ready: bootstrap_servers={kafka.bootstrap_servers}", flush=True)
        print(f"  data: {kafka.data_dir}  log: {kafka.log_file}  (Ctrl-C to stop)", flush=True)
        while kafka.running:
            time.sleep(0.5)
        print(f"Kafka exited on its own\n{kafka.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping Kafka ...", flush=True)
        return 0
    except BrokerError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        kafka.stop()


if __name__ == "__main__":
    sys.exit(main())
