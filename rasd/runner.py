"""Start and stop the four services as separate worker processes (``rasd run`` and the tests).

No worker outlives its parent: each is started with ``PR_SET_PDEATHSIG`` (Linux), so the kernel sends it
SIGTERM if the process that started it dies, even by SIGKILL, and a SIGTERMed worker exits within
``RASD_SHUTDOWN_TIMEOUT`` (services/common/lifecycle.py).  :func:`stop_on_signals` makes SIGTERM and SIGHUP
stop ``rasd run`` the way Ctrl-C does: workers first, then the broker.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from services.common.settings import DEFAULT_METRICS_PORTS, SERVICES


class WorkerProcess:
    """One ``rasd worker NAME`` subprocess with its log file and metrics port."""

    def __init__(self, service: str, *, metrics_port: int, log_path: Path, env: dict[str, str], tag: str = "") -> None:
        self.service = service
        self.tag = tag
        self.metrics_port = metrics_port
        self.log_path = log_path
        cmd = [sys.executable, "-m", "rasd", "worker", service, "--metrics-port", str(metrics_port)]
        if tag:
            cmd.append(f"--tag={tag}")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
        )
        self.started = time.monotonic()

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def metrics_text(self) -> str | None:
        """The current metrics page, or None while the endpoint is not up."""
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as resp:
                body: bytes = resp.read()
                return body.decode()
        except OSError:
            return None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        self.terminate()
        return self.wait_stopped(time.monotonic() + timeout)

    def terminate(self) -> None:
        """Ask the worker to stop (SIGTERM: finish, commit, leave the group); :meth:`wait_stopped` waits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing committed, the group not left."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def wait_stopped(self, deadline: float) -> int | None:
        """Wait for the exit until ``deadline`` (monotonic), then SIGKILL; returns the exit code."""
        try:
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


class Workers:
    """The four services (or a chosen subset) as worker processes against one broker."""

    def __init__(
        self,
        bootstrap: str,
        *,
        log_dir: Path,
        services: tuple[str, ...] = SERVICES,
        ports: dict[str, int] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.env = {**os.environ, **(extra_env or {}), "RASD_BOOTSTRAP_SERVERS": bootstrap}
        # Static group membership: a restarted worker (same service and tag) takes its own place back at once.
        self.env.setdefault("RASD_GROUP_INSTANCE_ID", "{service}{tag}")
        self.log_dir = log_dir
        env_port = "RASD_{}_METRICS_PORT"
        configured = {s: int(self.env.get(env_port.format(s.upper()), p)) for s, p in DEFAULT_METRICS_PORTS.items()}
        self.ports = {**configured, **(ports or {})}
        self.services = services
        self.procs: list[WorkerProcess] = []

    def start(self) -> None:
        for service in self.services:
            self.add(service)

    def add(self, service: str, *, metrics_port: int | None = None, tag: str = "") -> WorkerProcess:
        """Start one more worker (another replica of a service needs its own port and tag)."""
        port = self.ports[service] if metrics_port is None else metrics_port
        proc = WorkerProcess(
            service, metrics_port=port, log_path=self.log_dir / f"{service}{tag}.log", env=self.env, tag=tag
        )
        self.procs.append(proc)
        return proc

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every worker serves metrics; raise with its log tail if one dies or times out."""
        deadline = time.monotonic() + timeout
        pending = list(self.procs)
        while pending:
            for proc in list(pending):
                if proc.proc.poll() is not None:
                    raise RuntimeError(f"{proc.service} worker exited ({proc.proc.returncode}):\n{self.tail(proc)}")
                if proc.metrics_text() is not None:
                    pending.remove(proc)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{pending[0].service} worker not ready:\n{self.tail(pending[0])}")
            time.sleep(0.3)

    @staticmethod
    def tail(proc: WorkerProcess, lines: int = 40) -> str:
        try:
            return "\n".join(proc.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def restart(self, proc: WorkerProcess) -> WorkerProcess:
        """Start a worker in the place of ``proc`` (stopped or dead): same service, port and tag."""
        index = self.procs.index(proc)
        new = WorkerProcess(
            proc.service, metrics_port=proc.metrics_port, log_path=proc.log_path, env=self.env, tag=proc.tag
        )
        self.procs[index] = new
        return new

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every worker at once, SIGKILL those still running ``timeout`` seconds later."""
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            proc.wait_stopped(deadline)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGTERM the child when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    The signal follows the death of the *thread* that started the child, so it is only set from the main
    thread (as :mod:`rasd.kafka_local` does for the broker).  A parent already gone by then is caught too.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGTERM (a supervisor, ``docker stop``) and SIGHUP stop like Ctrl-C, by ``KeyboardInterrupt``;
    after the first of them (Ctrl-C too), further ones are noted, not obeyed, so the orderly stop that
    follows — workers, then the broker — is not cut short.  Main thread only (a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in handled}

    def note(signum: int, frame: FrameType | None) -> None:
        print(f"(still stopping: {signal.Signals(signum).name} ignored)", file=sys.stderr, flush=True)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        for other in handled:
            signal.signal(other, note)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in handled:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
