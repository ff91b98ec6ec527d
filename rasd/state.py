"""``rasd run``'s state directory: where it is, starting over (``--fresh``), one run at a time (a lock).

One directory per user holds what a run leaves behind for the next one, so a second ``rasd run`` continues where
the first stopped (the broker still has its topics, the deduplicator its index, the alerter its stories)::

    <state>/kafka/          the embedded broker's data (KRaft storage, formatted once, then reused)
    <state>/logs/           kafka.log, each worker's log, the alert desk's
    <state>/<service>/      the services' own state (the state dir is their RASD_DATA_DIR)
    <state>/.rasd-state     marks a directory rasd run created (only such a directory may be emptied by --fresh)
    <state>/.rasd-run.lock  held (flock) by the run using the directory

Which directory, first that applies: ``--state-dir``; ``RASD_DATA_DIR`` (the services' state directory is then the
run's state directory too); ``$XDG_STATE_HOME/rasd`` (an absolute ``XDG_STATE_HOME``, as the XDG spec wants);
``~/.local/state/rasd``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rasd.errors import EXIT_USAGE, CliError

MARKER = ".rasd-state"
LOCK = ".rasd-run.lock"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class StateDirError(CliError):
    """The state directory cannot be used as asked (taken by another run, not to be emptied): exit 2."""

    code = EXIT_USAGE


@dataclass(frozen=True)
class StateDir:
    """The resolved state directory and where it came from (``--state-dir``, ``RASD_DATA_DIR``, ...)."""

    path: Path
    source: str

    @property
    def kafka_dir(self) -> Path:
        return self.path / "kafka"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"

    @property
    def data_dir(self) -> Path:
        """The services' ``RASD_DATA_DIR``: the state directory itself."""
        return self.path


def resolve_state_dir(flag: Path | None, environ: Mapping[str, str] | None = None) -> StateDir:
    """``--state-dir`` > ``RASD_DATA_DIR`` > ``$XDG_STATE_HOME/rasd`` > ``~/.local/state/rasd`` (absolute)."""
    env = os.environ if environ is None else environ
    data_dir = env.get("RASD_DATA_DIR", "").strip()
    xdg = env.get("XDG_STATE_HOME", "").strip()
    if flag is not None:
        path, source = flag, "--state-dir"
    elif data_dir:
        path, source = Path(data_dir), "RASD_DATA_DIR"
    elif xdg and Path(xdg).expanduser().is_absolute():  # the spec: a relative path is invalid, ignore it
        path, source = Path(xdg) / "rasd", "XDG_STATE_HOME"
    else:
        path, source = Path("~/.local/state/rasd"), "default"
    return StateDir(Path(os.path.abspath(path.expanduser())), source)


def _dangerous(path: Path) -> str:
    """Why emptying ``path`` would be a disaster ("" if it would not): /, a home, the project, the working dir."""
    real = path.resolve()
    for name, place in (("your home directory", Path.home()), ("the Rasd project", PROJECT_ROOT),
                        ("the working directory", Path.cwd())):
        place = place.resolve()
        if real == place or real in place.parents:
            return f"it is {name}" if real == place else f"it contains {name} ({place})"
    if real == Path(real.anchor):
        return "it is the root directory"
    return ""


def _contents(path: Path) -> list[Path]:
    return [child for child in path.iterdir() if child.name != LOCK] if path.is_dir() else []


def empty_state_dir(state: StateDir) -> int:
    """``--fresh``: delete everything in the state directory (not the directory, not the lock); the number of
    entries deleted.  Refused (:class:`CliError`, exit 2) for /, a home directory, the project or the working
    directory (or one containing them), and for a non-empty directory rasd run did not create (no marker)."""
    why = _dangerous(state.path)
    if why:
        raise StateDirError(f"--fresh will not empty {state.path} ({state.source}): {why}",
                            "choose a state directory of its own with --state-dir or RASD_DATA_DIR")
    children = _contents(state.path)
    if children and not (state.path / MARKER).is_file():
        raise StateDirError(f"--fresh will not empty {state.path} ({state.source}): rasd run did not create it "
                            f"(no {MARKER} in it)", "empty it yourself, or choose another --state-dir")
    for child in children:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return len(children)


@contextmanager
def locked(state: StateDir) -> Iterator[IO[str]]:
    """Create the state directory and hold its lock while inside; one clear line (exit 2) if another run holds
    it.  The lock is an ``flock`` on ``.rasd-run.lock``: the kernel drops it when the run ends, even by SIGKILL."""
    try:
        state.path.mkdir(parents=True, exist_ok=True)
        handle = open(state.path / LOCK, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise StateDirError(f"cannot use the state directory {state.path} ({state.source}): {exc.strerror or exc}",
                            "choose another with --state-dir or RASD_DATA_DIR") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise StateDirError(f"another rasd run{pid} is using the state directory {state.path}",
                                "stop it first, or give this run its own --state-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield handle
    finally:
        handle.close()  # releases the lock


def prepare(state: StateDir, *, fresh: bool) -> str:
    """With the lock held: empty the directory for ``fresh``, mark a new one; what it is now: ``"fresh"`` (emptied),
    ``"new"`` (nothing in it yet) or ``"reused"`` (state of earlier runs, or files of others, kept)."""
    if fresh:
        empty_state_dir(state)
        status = "fresh"
    else:
        status = "reused" if _contents(state.path) else "new"
    if status != "reused":
        (state.path / MARKER).write_text("rasd run's state directory: `rasd run --fresh` may empty it\n")
    return status


def describe(state: StateDir, status: str) -> str:
    """The start-up line saying which state directory this run uses, why, and whether it continues from before."""
    origin = {"--state-dir": "--state-dir", "RASD_DATA_DIR": "from RASD_DATA_DIR",
              "XDG_STATE_HOME": "$XDG_STATE_HOME/rasd", "default": "the default"}[state.source]
    what = {"fresh": "emptied first (--fresh)",
            "new": "new",
            "reused": "reused: the broker's topics and the services' state of earlier runs; --fresh starts over"}
    return f"state: {state.path} ({origin}), {what[status]}"
