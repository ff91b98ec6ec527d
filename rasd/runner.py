"""Start and stop the four services as separate worker processes (``rasd run`` and the tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.common.settings import DEFAULT_METRICS_PORTS, SERVICES


class WorkerProcess:
    """One ``rasd worker NAME`` subprocess with its log file and metrics port."""

    def __init__(self, service: str, *, metrics_port: int, log_path: Path, env: dict[str, str], tag: str = "") -> None:
        self.service = service
        self.metrics_port = metrics_port
        self.log_path = log_path
        cmd = [sys.executable, "-m", "rasd", "worker", service, "--metrics-port", str(metrics_port)]
        if tag:
            cmd.append(f"--tag={tag}")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

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

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
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

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
