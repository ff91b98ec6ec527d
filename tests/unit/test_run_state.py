"""``rasd run``'s state directory (rasd/state.py): which one, ``--fresh`` emptying only what it may, one run at a time;
and a local broker that cannot start is one line and exit 3, not a traceback (README, "Exit codes").

Why: the state directory outlives runs now (the broker's topics, the dedup index, the stories), so picking it must
be predictable, starting over must never delete what is not Rasd's, and two runs must not share one broker's data.
No broker is needed: the failures are provoked before or instead of a real start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rasd.cli import _broker_failed
from rasd.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from rasd.kafka_local import KAFKA_VERSION, BrokerError
from rasd.state import LOCK, MARKER, StateDir, describe, empty_state_dir, locked, prepare, resolve_state_dir

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- which directory


def test_precedence_flag_then_rasd_data_dir_then_xdg_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = {"RASD_DATA_DIR": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert resolve_state_dir(tmp_path / "flag", env) == StateDir(tmp_path / "flag", "--state-dir")
    assert resolve_state_dir(None, env) == StateDir(tmp_path / "data", "RASD_DATA_DIR")
    del env["RASD_DATA_DIR"]
    assert resolve_state_dir(None, env) == StateDir(tmp_path / "xdg" / "rasd", "XDG_STATE_HOME")
    assert resolve_state_dir(None, {}) == StateDir(tmp_path / "home" / ".local" / "state" / "rasd", "default")


def test_blank_or_relative_settings_are_passed_over_and_paths_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    default = tmp_path / "home" / ".local" / "state" / "rasd"
    # The XDG spec: a relative XDG_STATE_HOME is invalid and is ignored; an empty RASD_DATA_DIR is not set.
    assert resolve_state_dir(None, {"RASD_DATA_DIR": " ", "XDG_STATE_HOME": "rel/state"}).path == default
    assert resolve_state_dir(None, {"RASD_DATA_DIR": "var"}).path == tmp_path / "var"  # as the workers read it
    assert resolve_state_dir(Path("~/st"), {}).path == tmp_path / "home" / "st"
    assert resolve_state_dir(None, os.environ) == resolve_state_dir(None)  # the process's environment by default


def test_the_services_state_is_the_state_dir_itself(tmp_path: Path) -> None:
    state = StateDir(tmp_path, "--state-dir")
    assert (state.data_dir, state.kafka_dir, state.log_dir) == (tmp_path, tmp_path / "kafka", tmp_path / "logs")


# ---------------------------------------------------------------- new, reused, --fresh


def populated(state: StateDir) -> None:
    (state.kafka_dir / "logs").mkdir(parents=True)
    (state.kafka_dir / "logs" / "meta.properties").write_text("cluster.id=x\n")
    (state.log_dir).mkdir()
    (state.log_dir / "kafka.log").write_text("log\n")
    (state.path / "deduplicator").mkdir()


def test_a_new_dir_is_marked_then_reused_then_emptied_by_fresh(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "st", "--state-dir")
    with locked(state):
        assert prepare(state, fresh=False) == "new"
        assert (state.path / MARKER).is_file()
        populated(state)
    with locked(state):
        assert prepare(state, fresh=False) == "reused"
        assert (state.kafka_dir / "logs" / "meta.properties").is_file()
    with locked(state):
        assert prepare(state, fresh=True) == "fresh"
        assert sorted(p.name for p in state.path.iterdir()) == sorted([MARKER, LOCK])  # the lock stays held
    assert describe(state, "fresh") == f"state: {state.path} (--state-dir), emptied first (--fresh)"
    assert "reused" in describe(StateDir(state.path, "RASD_DATA_DIR"), "reused")


def test_fresh_deletes_a_symlink_not_what_it_points_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me\n")
    state = StateDir(tmp_path / "st", "--state-dir")
    state.path.mkdir()
    (state.path / MARKER).write_text("")
    (state.path / "link").symlink_to(outside, target_is_directory=True)
    (state.path / "file-link").symlink_to(outside / "precious.txt")
    empty_state_dir(state)
    assert not (state.path / "link").exists() and not (state.path / "file-link").is_symlink()
    assert (outside / "precious.txt").read_text() == "keep me\n"


def test_fresh_will_not_empty_a_dir_rasd_did_not_create(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "mine", "RASD_DATA_DIR")
    state.path.mkdir()
    (state.path / "notes.txt").write_text("not Rasd's\n")
    with pytest.raises(CliError) as info:
        empty_state_dir(state)
    assert info.value.code == EXIT_USAGE and MARKER in info.value.message
    assert (state.path / "notes.txt").exists()
    with locked(state):
        assert prepare(state, fresh=False) == "reused"
    assert not (state.path / MARKER).exists()  # used, but never marked as Rasd's to empty
    empty = StateDir(tmp_path / "empty", "--state-dir")
    empty.path.mkdir()
    assert empty_state_dir(empty) == 0  # an empty, unmarked directory: nothing to lose


@pytest.mark.parametrize("where", ["root", "home", "above-home", "project", "cwd"])
def test_fresh_refuses_dangerous_dirs_even_if_marked(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "users" / "me"
    work = tmp_path / "work"
    for directory in (home, work):
        directory.mkdir(parents=True)
        (directory / MARKER).write_text("")
        (directory / "file").write_text("x")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    path = {"root": Path("/"), "home": home, "above-home": home.parent, "project": ROOT, "cwd": work}[where]
    with pytest.raises(CliError) as info:
        empty_state_dir(StateDir(path, "--state-dir"))
    assert info.value.code == EXIT_USAGE and "--fresh will not empty" in info.value.message
    assert (home / "file").exists() and (work / "file").exists()


# ---------------------------------------------------------------- the lock


def test_a_second_run_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "st", "--state-dir")
    with locked(state):
        with pytest.raises(CliError) as info, locked(state):
            pass
        assert info.value.code == EXIT_USAGE
        assert info.value.message == f"another rasd run (pid {os.getpid()}) is using the state directory {state.path}"
    with locked(state):  # released on exit
        pass


def rasd_run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "RASD_BOOTSTRAP_SERVERS"} | env
    return subprocess.run([sys.executable, "-m", "rasd", "run", "--once", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=90)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_rasd_run_on_a_locked_state_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "st", "--state-dir")
    with locked(state):
        proc = rasd_run(["--state-dir", str(state.path)], {})
    assert proc.returncode == EXIT_USAGE
    assert one_line(proc).startswith(f"rasd run: another rasd run (pid {os.getpid()}) is using the state directory")


def test_rasd_run_fresh_on_a_foreign_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    proc = rasd_run(["--fresh"], {"RASD_DATA_DIR": str(tmp_path / "mine")})
    assert proc.returncode == EXIT_USAGE
    assert one_line(proc).startswith(f"rasd run: --fresh will not empty {tmp_path / 'mine'} (RASD_DATA_DIR)")
    assert (tmp_path / "mine" / "notes.txt").exists()


# ---------------------------------------------------------------- the broker cannot start


def test_a_taken_port_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = rasd_run(["--state-dir", str(tmp_path / "st")], {"RASD_LOCAL_KAFKA_PORT": str(port)})
    assert proc.returncode == EXIT_UNREACHABLE
    line = one_line(proc)
    assert line.startswith(f"rasd run: the local Kafka broker cannot start: 127.0.0.1:{port} is taken")
    assert "RASD_LOCAL_KAFKA_PORT" in line
    assert proc.stdout.startswith(f"state: {tmp_path / 'st'} (--state-dir), new\n")


def broken_jars(tmp_path: Path) -> Path:
    """A jar cache that says it is complete but holds no jar: java finds no Kafka class."""
    cache = tmp_path / "cache"
    (cache / f"kafka-{KAFKA_VERSION}" / "libs").mkdir(parents=True)
    (cache / f"kafka-{KAFKA_VERSION}" / ".rasd-kafka-jars-complete").write_text(KAFKA_VERSION + "\n")
    return cache


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(shutil.which("java") is None, reason="needs java")
@pytest.mark.parametrize("formatted", [False, True], ids=["format-fails", "jvm-exits"])
def test_broken_jars_are_one_line_and_exit_3(formatted: bool, tmp_path: Path) -> None:
    state = tmp_path / "st"
    if formatted:  # a reused, formatted state dir: the broker's JVM itself is started, and exits
        (state / "kafka" / "logs").mkdir(parents=True)
        (state / "kafka" / "logs" / "meta.properties").write_text("")
    env = {"RASD_CACHE_DIR": str(broken_jars(tmp_path)), "RASD_LOCAL_KAFKA_PORT": str(free_port())}
    proc = rasd_run(["--state-dir", str(state)], env)
    assert proc.returncode == EXIT_UNREACHABLE
    line = one_line(proc)
    what = "Kafka JVM exited during start-up" if formatted else "kafka StorageTool format failed"
    assert line.startswith(f"rasd run: the local Kafka broker did not start: {what} (exit 1): ")
    assert "ClassNotFoundException" in line or "Could not find or load main class" in line
    assert line.endswith(f"the broker's log: {state / 'logs' / 'kafka.log'}; or set RASD_BOOTSTRAP_SERVERS to a "
                         "running Kafka")
    assert "ClassNotFoundException" in (state / "logs" / "kafka.log").read_text()  # the details are in the log


def test_missing_jars_point_at_make_kafka() -> None:
    error = _broker_failed(BrokerError("Maven could not fetch the Kafka 4.4.0 jars (exit 1): mvn -q -B ...\n"
                                       "--- mvn output (tail) ---\n[ERROR] no network"), Path("/s/logs/kafka.log"))
    assert error.code == EXIT_UNREACHABLE
    assert error.line("run") == ("rasd run: the local Kafka broker did not start: Maven could not fetch the Kafka "
                                 "4.4.0 jars (exit 1) — `make kafka` fetches the broker's jars (Java 17+ and Maven "
                                 "needed); or set RASD_BOOTSTRAP_SERVERS to a running Kafka")
