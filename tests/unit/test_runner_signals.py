"""``rasd run``'s process hygiene: children die with it, SIGTERM stops it as Ctrl-C does (rasd/runner.py).

Why (issue 16): a SIGTERM sent to ``rasd run`` alone (systemd, a supervisor, ``docker stop``) killed it at once
and left its four workers running as orphans.  tests/integration/test_shutdown.py runs the real thing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rasd.runner import die_with_parent, stop_on_signals

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_started_with_die_with_parent_dies_when_its_parent_is_killed() -> None:
    parent_script = (
        "import subprocess, sys, time\n"
        "from rasd.runner import die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
        " preexec_fn=die_with_parent())\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
        parent.kill()  # SIGKILL: no handler, no atexit, nothing runs in the parent
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(child), "the child outlived its SIGKILLed parent"
    finally:
        parent.kill()


def test_die_with_parent_is_only_offered_on_the_main_thread() -> None:
    import threading

    offered: list[object] = []
    thread = threading.Thread(target=lambda: offered.append(die_with_parent()))
    thread.start()
    thread.join()
    assert offered == [None]  # the signal follows the thread that forks: a worker thread may end first
    assert (die_with_parent() is not None) == sys.platform.startswith("linux")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_interrupts_once_and_later_ones_wait(signum: int, capsys: pytest.CaptureFixture[str]) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stopped_by = None
    with stop_on_signals():
        try:
            os.kill(os.getpid(), signum)
            time.sleep(1)  # the handler runs here
        except KeyboardInterrupt as exc:
            stopped_by = str(exc)
            # The orderly stop runs now: a second signal (or a Ctrl-C) must not cut it short.
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
    assert stopped_by == signal.Signals(signum).name
    assert capsys.readouterr().err.count("still stopping") == 2
    assert {s: signal.getsignal(s) for s in before} == before
