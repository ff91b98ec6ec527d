"""How the ``rasd`` commands fail: exit codes, one-line errors with a hint, waiting for Kafka, aiokafka's logs.

A person at a terminal wants one line that says what went wrong and what to do, not a 30-line traceback from
deep inside aiokafka; a script wants an exit code it can branch on.  The codes (README, "Exit codes"):

* ``0`` — done;
* ``1`` — the command ran but did not finish its job (the broker refused messages or a topic, ``rasd run --once``
  timed out, an unexpected Kafka error);
* ``2`` — usage or configuration (argparse's own code for a bad command line, a missing setting; ``rasd run``'s
  state directory in use by another run or not one ``--fresh`` may empty: :mod:`rasd.state`);
* ``3`` — Kafka cannot be reached (a refused TLS handshake or SASL login is ``2``: :mod:`services.common.security`),
  or ``rasd run``'s local broker cannot start (its port taken, its jars missing, its JVM exiting);
* ``4`` — bad input (a path that does not exist or cannot be read; with ``publish --strict``, an invalid article).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INPUT = 4


class CliError(Exception):
    """A failure the CLI reports as one line (``message``, then ``hint`` if any) and exits with ``code``."""

    code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self, command: str) -> str:
        """The one line printed on stderr."""
        text = f"rasd {command}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class InputError(CliError):
    code = EXIT_INPUT


def unreachable_hint(configured: bool) -> str:
    """What to do when Kafka cannot be reached, after the cause: with RASD_BOOTSTRAP_SERVERS unset, the local broker."""
    if configured:
        return "is Kafka running at that address?"
    return ("RASD_BOOTSTRAP_SERVERS is not set, so this is the local broker of `rasd run`: start `rasd run` "
            "(or `python -m rasd.kafka_local`), or set RASD_BOOTSTRAP_SERVERS to your Kafka")


async def wait_for_kafka(bootstrap: str, auth: Mapping[str, Any] | None = None, *, wait: float,
                         on_wait: str = "") -> None:
    """:func:`services.common.security.check_access`, retried for ``wait`` seconds while Kafka cannot be reached
    (a worker started next to its broker: Faust itself gives up at once, with a traceback); a refusal (TLS, SASL)
    is raised at once.  ``on_wait`` (with ``{cause}``) is printed once to stderr while waiting."""
    from services.common.security import KafkaAccessError, check_access

    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            await check_access(bootstrap, auth, timeout=min(10.0, max(1.0, wait)))
            return
        except KafkaAccessError as exc:
            if exc.code != EXIT_UNREACHABLE or time.monotonic() >= deadline:
                raise
            if on_wait and not announced:
                print(on_wait.format(cause=exc), file=sys.stderr, flush=True)
                announced = True
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


class OneLineKafkaLog(logging.Handler):
    """aiokafka's warnings and errors as one line each (no traceback), a repeated message at most every
    ``every`` seconds: a subscriber whose broker goes away says so once, not ten times a second."""

    def __init__(self, command: str, every: float = 30.0) -> None:
        super().__init__(logging.WARNING)
        self.command = command
        self.every = every
        self._last: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage().splitlines()[0] if record.getMessage() else record.levelname
        except Exception:  # a record whose arguments do not format: say nothing rather than fail
            return
        now = time.monotonic()
        if now - self._last.get(message, -self.every) < self.every:
            return
        self._last[message] = now
        print(f"rasd {self.command}: Kafka: {message}", file=sys.stderr, flush=True)


def quiet_kafka_logs(command: str) -> None:
    """Route the ``aiokafka`` logger through :class:`OneLineKafkaLog` (else Python prints its records raw)."""
    logger = logging.getLogger("aiokafka")
    if not any(isinstance(h, OneLineKafkaLog) for h in logger.handlers):
        logger.addHandler(OneLineKafkaLog(command))
        logger.propagate = False
