"""Every command that talks to Kafka says in one line when it cannot reach it, with the cause and a hint,
and exits 3 — no traceback (README, "Exit codes").

Why: with the broker down, ``rasd alerts`` and ``rasd publish`` used to print 30-line aiokafka tracebacks, and a
worker died inside Faust with one; a person needs the cause and what to do, a script an exit code.  No broker is
needed here: the commands are pointed at a port nothing listens on.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rasd.errors import EXIT_UNREACHABLE, OneLineKafkaLog

ROOT = Path(__file__).resolve().parents[2]
SEED = sorted((ROOT / "seeds").glob("*.txt"))[0]


def closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound then released: nothing listens there afterwards
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def rasd(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "RASD_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run([sys.executable, "-m", "rasd", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=90)


@pytest.mark.parametrize("args", [
    pytest.param(["publish", str(SEED)], id="publish"),
    pytest.param(["alerts", "--json"], id="alerts"),
    pytest.param(["run", "--once", "--timeout", "5"], id="run-with-bootstrap-set"),
    pytest.param(["worker", "normalizer", "--metrics-port", "0", "--broker-wait", "0"], id="worker"),
])
def test_unreachable_broker_is_one_line_and_exit_3(args: list[str], tmp_path: Path) -> None:
    port = closed_port()
    if args[0] == "run":
        args = [*args, "--state-dir", str(tmp_path / "run")]
    proc = rasd(args, {"RASD_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}, tmp_path)
    assert proc.returncode == EXIT_UNREACHABLE, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"rasd {args[0]}: cannot reach Kafka at 127.0.0.1:{port}"), lines[0]
    assert re.search(r"refused|Errno 111", lines[0]) and lines[0].endswith("is Kafka running at that address?")


def test_without_bootstrap_servers_the_hint_is_the_local_broker(tmp_path: Path) -> None:
    """Unset RASD_BOOTSTRAP_SERVERS means `rasd run`'s local broker: say so, and how to start it or point elsewhere."""
    port = closed_port()
    proc = rasd(["alerts"], {"RASD_BOOTSTRAP_SERVERS": "", "RASD_LOCAL_KAFKA_PORT": str(port)}, tmp_path)
    assert proc.returncode == EXIT_UNREACHABLE
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"rasd alerts: cannot reach Kafka at 127.0.0.1:{port}")
    assert "RASD_BOOTSTRAP_SERVERS is not set" in line and "start `rasd run`" in line


def test_a_worker_waits_for_its_broker_then_gives_up_in_one_line(tmp_path: Path) -> None:
    """A worker may start before its broker: it waits (saying so once), then exits 3 — Faust alone would die at once
    with a traceback."""
    port = closed_port()
    proc = rasd(["worker", "alerter", "--metrics-port", "0", "--broker-wait", "1.5"],
                {"RASD_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}, tmp_path)
    assert proc.returncode == EXIT_UNREACHABLE
    waiting, final = proc.stderr.splitlines()
    assert waiting.startswith("rasd worker alerter: waiting up to 1.5 s for Kafka")
    assert final.startswith(f"rasd worker: cannot reach Kafka at 127.0.0.1:{port}")


def test_aiokafka_log_records_become_rate_limited_single_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """What aiokafka logs while a subscriber runs (a broker gone away) is one line per message, not a traceback
    ten times a second."""
    handler = OneLineKafkaLog("alerts", every=60.0)
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        record = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "Unable connect to %r", ("k:9092",),
                                   sys.exc_info())
    for _ in range(5):
        handler.handle(record)
    handler.handle(logging.LogRecord("aiokafka", logging.WARNING, __file__, 1, "other\nsecond line", (), None))
    assert capsys.readouterr().err.splitlines() == [
        "rasd alerts: Kafka: Unable connect to 'k:9092'", "rasd alerts: Kafka: other"]
