"""Sending a stage's outputs so that no failure to produce one is silent (docs/reliability.md).

:func:`services.common.stage.process_message` keeps every output under the producer's size limit, but the
producer can still refuse one: at once (``send`` raises: a serialisation or size error, a producer that
cannot take it) or later, when the broker answers (its future fails: the topic's own ``max.message.bytes``
is smaller, the client may not write to the topic, the batch expired while the broker was away).  Either
way the input message becomes a dead letter with reason ``send`` — its original bytes, the error — counted
in ``rasd_errors_total``/``rasd_dead_letters_total`` like every other failure, and the agent goes on with
the next message.

A refusal that arrives late must still be a dead letter *before* the consumer commits past its input, or a
crash in between would lose the message.  Faust's commit flushes the producer first (every send is then
settled, each failure's callback queued); the consumer then awaits :meth:`Delivery.settle`
(``RewindingConsumer._commit``), which waits for the dead letters those failures send.

A broker refuses a whole batch for one record over its limit, so a late refusal first retries the output
alone (the others of its batch then get through); only the one that fails alone is dead-lettered.  No Faust
import here: a sink is anything with Faust's ``Topic.send`` signature, so this is unit-tested directly.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol

from schemas.codec import encode

from .metrics import StageMetrics
from .stage import DEFAULT_LIMITS, DLQ_KEY_BYTES, Emit, Limits, dead_letter

log = logging.getLogger(__name__)
DLQ_ATTEMPTS = 3  # tries of one dead letter before it is given up, loudly
DLQ_RETRY_S = 1.0  # first wait between them (doubles)
SETTLE_TIMEOUT = 10.0  # longest a commit waits for the dead letters of late refusals (then it commits nothing)


class Sink(Protocol):
    """What a Faust topic offers: ``send`` returns the future of the broker's answer."""

    async def send(self, *, key: bytes | None = ..., value: bytes | None = ...) -> Awaitable[Any]: ...


class Delivery:
    """Sends one agent's emits; any output that cannot be produced becomes a dead letter (reason ``send``)."""

    def __init__(
        self,
        stage: str,
        sinks: Mapping[str, Sink],
        metrics: StageMetrics | None = None,
        limits: Limits = DEFAULT_LIMITS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stage = stage
        self.sinks = sinks
        self.metrics = metrics
        self.limits = limits
        self.clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    async def send(
        self,
        emits: Sequence[Emit],
        *,
        value: bytes | None,
        topic: str,
        key: bytes | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        """Send ``emits`` (what :func:`process_message` returned for the input ``value``); never raises
        ``Exception``: a refused output turns the input into a dead letter and the rest are not sent."""
        where = {"topic": topic, "key": key, "partition": partition, "offset": offset}
        for emit in emits:
            if emit.topic == "dlq":  # already a dead letter: send it as such (retried, never re-lettered)
                await self._send_letter(emit.key, emit.value, where)
                continue
            try:
                future = await self.sinks[emit.topic].send(key=emit.key, value=emit.value)
            except Exception as exc:
                await self._dead_letter(value, where, emit, exc)
                return
            if isinstance(future, asyncio.Future):
                future.add_done_callback(functools.partial(self._answered, value=value, where=where, emit=emit))

    def _answered(self, future: asyncio.Future[Any], value: bytes | None, where: dict[str, Any], emit: Emit) -> None:
        """The broker answered an output's send: a refusal is retried alone, then dead-lettered."""
        if future.cancelled() or future.exception() is None:
            return
        exc = future.exception()
        assert exc is not None
        self._track(self._retry_alone(value, where, emit, exc))

    async def _retry_alone(self, value: bytes | None, where: dict[str, Any], emit: Emit, first: BaseException) -> None:
        try:
            future = await self.sinks[emit.topic].send(key=emit.key, value=emit.value)
            if inspect.isawaitable(future):
                await future
        except Exception as exc:
            await self._dead_letter(value, where, emit, exc)
        else:
            log.info("%s: output to %s refused in a batch (%s), sent alone", self.stage, emit.topic, _describe(first))

    async def _dead_letter(self, value: bytes | None, where: dict[str, Any], emit: Emit, exc: BaseException) -> None:
        """The input message whose output could not be produced, as a dead letter with reason ``send``."""
        error = f"send: its output to {emit.topic} ({len(emit.value):,} bytes) was refused: {_describe(exc)}"
        log.warning("%s: %s (input %s[%s]@%s)", self.stage, error, where["topic"], where["partition"], where["offset"])
        if self.metrics is not None:
            self.metrics.errors.labels(self.metrics.service, "send").inc()
            self.metrics.dead_letters.labels(self.metrics.service, "send").inc()
            self.metrics.child(self.metrics.produced, "dlq").inc()
        letter = dead_letter(self.stage, where["topic"], value, error, now=self.clock(), key=where["key"],
                             partition=where["partition"], offset=where["offset"], max_bytes=self.limits.message_bytes)
        await self._send_letter((where["key"] or b"")[:DLQ_KEY_BYTES], encode(letter), where, confirm=True)

    async def _send_letter(self, key: bytes, letter: bytes, where: dict[str, Any], *, confirm: bool = False) -> None:
        """Send a dead letter; a few tries, then an error line (never silent).  With ``confirm`` wait for the
        broker's answer, else a late refusal sends it again (confirmed, settled before the next commit)."""
        wait = DLQ_RETRY_S
        for attempt in range(1, DLQ_ATTEMPTS + 1):
            try:
                future = await self.sinks["dlq"].send(key=key, value=letter)
                if confirm and inspect.isawaitable(future):
                    await future
                elif isinstance(future, asyncio.Future):
                    future.add_done_callback(lambda fut: self._letter_answered(fut, key, letter, where))
                return
            except Exception as exc:
                if attempt == DLQ_ATTEMPTS:
                    log.error("%s: dead letter for %s[%s]@%s not sent after %d tries: %s", self.stage, where["topic"],
                              where["partition"], where["offset"], attempt, _describe(exc))
                    return
                await asyncio.sleep(wait)
                wait *= 2

    def _letter_answered(self, future: asyncio.Future[Any], key: bytes, letter: bytes, where: dict[str, Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._track(self._send_letter(key, letter, where, confirm=True))

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Wait until every late refusal seen so far is retried or dead-lettered (called before a commit);
        False if some are still under way after ``timeout`` seconds (they go on: nothing is cancelled)."""
        await asyncio.sleep(0)  # let the callbacks of futures the producer's flush just settled run
        deadline = asyncio.get_running_loop().time() + timeout
        while self._pending:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(list(self._pending), timeout=left)
        return True

    @property
    def pending(self) -> int:
        """Late refusals being retried or dead-lettered."""
        return len(self._pending)


def _describe(exc: BaseException) -> str:
    """``Type: message``, with the cause a wrapper (Faust's ``ProducerSendError``) hides."""
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if cause is not None and type(cause).__name__ not in text:
        text += f" ({type(cause).__name__}: {cause})"
    return text


_deliveries: weakref.WeakKeyDictionary[Any, list[Delivery]] = weakref.WeakKeyDictionary()


def register(app: Any, delivery: Delivery) -> None:
    """Make the app's consumer settle ``delivery`` before each commit."""
    _deliveries.setdefault(app, []).append(delivery)


async def settle(app: Any, timeout: float = SETTLE_TIMEOUT) -> bool:
    """Settle every :class:`Delivery` of ``app`` (its consumer calls this before committing offsets); False when
    a dead letter is still unacknowledged after ``timeout`` s (the broker is away): then commit nothing yet."""
    settled = True
    for delivery in list(_deliveries.get(app, ())):
        settled = await delivery.settle(timeout) and settled
    if not settled:
        log.warning("dead letters for refused outputs not acknowledged within %.0f s: offsets not committed yet",
                    timeout)
    return settled
