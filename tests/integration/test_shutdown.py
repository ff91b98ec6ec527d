"""Bounded, orderly shutdown on the real broker: workers and ``rasd run`` under SIGTERM, SIGINT and SIGKILL.

Why (issue 16): workers whose broker was gone did not exit on SIGTERM within 40 s; a SIGTERM sent to
``rasd run`` alone killed it at once and left its four workers running as orphans; a SIGINT sent to it alone
left it waiting minutes on a normalizer that did not stop.  Now a worker leaves its group and exits within
``RASD_SHUTDOWN_TIMEOUT`` (8 s) of SIGTERM, broker or no broker (services/common/lifecycle.py), and
``rasd run`` stops its workers and its broker on SIGTERM, SIGHUP and SIGINT and, killed outright, takes
them with it (``PR_SET_PDEATHSIG``, rasd/runner.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from rasd.kafka_io import publish
from rasd.kafka_local import LocalKafka, create_topics
from rasd.runner import WorkerProcess, Workers
from services.common.settings import SERVICES

from .helpers import free_port, isolated_env

ROOT = Path(__file__).resolve().parents[2]
SEED = (ROOT / "seeds" / "002_e54ffb910fea662e.txt").read_text(encoding="utf-8")
EXIT_WITHIN = 10.0  # seconds from SIGTERM, the bound


def processed(proc: WorkerProcess) -> float:
    page = proc.metrics_text() or ""
    return sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
               if line.startswith("rasd_processing_seconds_count"))


async def group_members(bootstrap: str, group: str) -> tuple[str, int]:
    """The group's state and how many members the broker counts in it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        _, _, state, _, _, members = response.groups[0][:6]
        return state, len(members)
    finally:
        await admin.close()


async def running_normalizer(bootstrap: str, tmp_path: Path, extra: dict[str, str]) -> tuple[Workers, str]:
    """A normalizer that has joined its group and processed an article; returns it and its group."""
    env, topics = isolated_env(tmp_path / "data")
    await create_topics(bootstrap, topics.all(), partitions=4)
    workers = Workers(bootstrap, log_dir=tmp_path / "logs", services=(), extra_env={**env, **extra})
    proc = workers.add("normalizer", metrics_port=free_port(), tag="-a")
    await publish(bootstrap, topics.raw, [orjson.dumps({"id": "s1", "source": "test", "body": SEED})])
    deadline = time.monotonic() + 120
    while processed(proc) < 1:
        assert proc.proc.poll() is None, Workers.tail(proc)
        assert time.monotonic() < deadline, "the normalizer never processed the article"
        await asyncio.sleep(0.2)
    return workers, f"{env['RASD_APP_ID_PREFIX']}-normalizer"


@pytest.mark.parametrize("membership", ["static", "dynamic"])
async def test_a_worker_leaves_its_group_and_exits_soon_after_sigterm(
    kafka_bootstrap: str, tmp_path: Path, membership: str
) -> None:
    extra = {"RASD_GROUP_INSTANCE_ID": "{service}{tag}" if membership == "static" else ""}
    workers, group = await running_normalizer(kafka_bootstrap, tmp_path, extra)
    [proc] = workers.procs
    try:
        assert await group_members(kafka_bootstrap, group) == ("Stable", 1)
        sent = time.monotonic()
        code = proc.stop(timeout=30)
        took = time.monotonic() - sent
        # It left: without a LeaveGroup the broker would count the member for its whole 10 s session.
        state, members = await group_members(kafka_bootstrap, group)
    finally:
        workers.stop()
    assert code == 0, Workers.tail(proc)
    assert took < EXIT_WITHIN, f"exited {took:.1f} s after SIGTERM"
    assert (state, members) == ("Empty", 0), Workers.tail(proc)
    print(f"{membership} member: exited {took:.1f} s after SIGTERM, group left")


async def test_a_worker_exits_within_10_s_of_sigterm_when_its_broker_is_gone(tmp_path: Path) -> None:
    kafka = LocalKafka(data_dir=tmp_path / "kafka", port=free_port(), log_file=tmp_path / "broker.log").start()
    try:
        workers, _ = await running_normalizer(kafka.bootstrap_servers, tmp_path, {})
        dedup = workers.add("deduplicator", metrics_port=free_port())  # a table, a changelog, two agents
        deadline = time.monotonic() + 120
        while processed(dedup) < 1:
            assert dedup.proc.poll() is None and time.monotonic() < deadline, Workers.tail(dedup)
            await asyncio.sleep(0.2)
        os.kill(kafka.pid or 0, signal.SIGKILL)  # gone without a word, as a crashed or unreachable broker
        kafka.stop()
        await asyncio.sleep(2)
        sent = time.monotonic()
        for proc in workers.procs:
            proc.terminate()
        took = {}
        for proc in workers.procs:
            proc.wait_stopped(sent + 60)
            took[proc.service] = time.monotonic() - sent
    finally:
        workers.stop()
        kafka.stop()
    print(f"exits after SIGTERM with the broker gone: { {s: round(t, 1) for s, t in took.items()} }")
    assert all(t < EXIT_WITHIN for t in took.values()), took


# ------------------------------------------------------------------------------------------ rasd run


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children…), from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class RasdRun:
    """``rasd run`` in a subprocess, its output read as it comes."""

    def __init__(self, tmp_path: Path, *, bootstrap: str | None) -> None:
        env, _ = isolated_env(tmp_path / "data")
        env |= {f"RASD_{s.upper()}_METRICS_PORT": str(free_port()) for s in SERVICES}
        env |= {"RASD_LOCAL_KAFKA_PORT": str(free_port()), "RASD_WEB_PORT": str(free_port()), "TMPDIR": str(tmp_path)}
        full = {k: v for k, v in os.environ.items() if k not in ("RASD_BOOTSTRAP_SERVERS", "RASD_WEBHOOK_URLS")}
        full |= env
        if bootstrap:
            full["RASD_BOOTSTRAP_SERVERS"] = bootstrap
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rasd", "run", "--state-dir", str(tmp_path / "run")],
            cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.proc.poll() is None, f"rasd run exited ({self.proc.returncode}):\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout:.0f} s:\n{self.output}"
            time.sleep(0.2)

    def kill_all(self, pids: set[int]) -> None:
        for pid in [self.proc.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("signum", "broker"),
    [
        (signal.SIGTERM, "embedded"),  # a supervisor, systemd or `docker stop`
        (signal.SIGINT, "external"),  # Ctrl-C sent to rasd run alone (not to its process group)
        (signal.SIGKILL, "embedded"),  # no handler runs at all: the children go by PR_SET_PDEATHSIG
    ],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_rasd_run_leaves_no_process_behind(kafka_bootstrap: str, tmp_path: Path, signum: int, broker: str) -> None:
    run = RasdRun(tmp_path, bootstrap=kafka_bootstrap if broker == "external" else None)
    children: set[int] = set()
    try:
        run.wait_for("alerts follow", timeout=240)
        children = descendants(run.proc.pid)
        # The workers, the alert desk (rasd web) and, when embedded, the broker's JVM.
        assert len(children) >= len(SERVICES) + 1 + (broker == "embedded"), children
        sent = time.monotonic()
        run.proc.send_signal(signum)
        run.proc.wait(60)
        exited = time.monotonic() - sent
        deadline = sent + 60
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        all_gone = time.monotonic() - sent
        left = sorted(pid for pid in children if alive(pid))
    finally:
        run.kill_all(children)
    print(f"rasd run, {signal.Signals(signum).name}: exited after {exited:.1f} s, "
          f"{len(children)} children gone after {all_gone:.1f} s")
    assert not left, f"left running: {left}\n{run.output}"
    if signum != signal.SIGKILL:
        assert run.proc.returncode == 0, run.output
        assert "stopping" in run.output
        assert exited < 40, exited  # workers within 10 s (in parallel), then the broker's own clean stop
    else:
        assert all_gone < 30, all_gone  # the workers' bounded stop, the broker's clean stop
