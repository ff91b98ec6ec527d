"""What every stage shares: its interface, and the edge that turns bytes into calls.

A :class:`Stage` is the functional core of one service seen from the outside:
it declares the model it consumes and returns :class:`Output` values (topic
key, message key, model).  :func:`process_message` is the one edge used by the
Faust agents: decode the bytes with the codec, call the core, encode the
outputs, and turn *any* failure into a dead letter carrying the original bytes
and the reason — an agent never dies on bad input.  It has no Faust import, so
it is unit-tested directly.

Size limits (:class:`Limits`, the ``RASD_MAX_*`` settings) are checked here too: a raw message's bytes
before it is decoded, its title and body characters before the core runs, and every encoded output
against the largest message the producer sends — an article too large for any of them is a dead letter
with the reason ``too_large``, never a producer error in the agent (docs/reliability.md, "Size limits").
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from schemas.codec import DecodeError, decode, encode
from schemas.models import DeadLetter, RawArticle

from .metrics import StageMetrics


@dataclass(frozen=True)
class Output:
    """One message a stage wants sent: to the topic named by ``topic`` (a :class:`Topics` field)."""

    topic: str
    key: str
    value: BaseModel


@dataclass(frozen=True)
class Emit:
    """An encoded message ready for the producer."""

    topic: str
    key: bytes
    value: bytes


# An upper bound of what Kafka adds to a record's key and value in a batch of its own: aiokafka's
# ``DefaultRecordBatchBuilder.estimate_size_in_bytes`` (the figure its producer compares with
# ``max_request_size``) is the 61-byte batch header, at most 21 bytes of record overhead and the varint
# lengths of key and value (tests/unit/test_send_failures.py checks the bound against it).
RECORD_OVERHEAD = 128
# A dead letter keeps at most this much of the original key (as its key and in ``key``).
DLQ_KEY_BYTES = 1024
# A dead letter's ``original_text`` (at most 10,000 characters, each at most 6 bytes of JSON) and ``error``
# (2,000) plus its other fields stay under this many bytes; what is left of the budget is for the original.
_LETTER_FIXED_BYTES = 10_000 * 6 + 2_000 * 6 + 4_096


@dataclass(frozen=True)
class Limits:
    """How large an article and a message may be (settings ``RASD_MAX_*``; docs/reliability.md).

    ``raw_bytes``, ``title_chars`` and ``body_chars`` bound a raw article, checked before any work;
    ``message_bytes`` bounds every message a stage produces (key, value and :data:`RECORD_OVERHEAD`) and is
    the producer's ``max_request_size``, so no output can be refused by the producer for its size.
    """

    raw_bytes: int = 655_360
    title_chars: int = 1_000
    body_chars: int = 100_000
    message_bytes: int = 1_000_000


DEFAULT_LIMITS = Limits()


class TooLarge(ValueError):
    """A message over one of the :class:`Limits` (dead-letter reason ``too_large``)."""


def message_size(key: bytes | None, value: bytes | None) -> int:
    """The bytes a record takes in a produce request, at most (key, value, record overhead)."""
    return len(key or b"") + len(value or b"") + RECORD_OVERHEAD


def check_input(stage: Stage, key: bytes | None, value: bytes | None, limits: Limits) -> None:
    """Refuse, before decoding, a message larger than its stage accepts (raw articles: ``raw_bytes``)."""
    limit, setting = (
        (limits.raw_bytes, "RASD_MAX_RAW_BYTES") if stage.input_model is RawArticle
        else (limits.message_bytes, "RASD_MAX_MESSAGE_BYTES")
    )
    size = len(key or b"") + len(value or b"")
    if size > limit:
        raise TooLarge(f"the message is {size:,} bytes (key and value), over {setting}={limit}")


def check_article(message: BaseModel, limits: Limits) -> None:
    """Refuse, before the core runs, a raw article whose title or body is longer than the limits."""
    if not isinstance(message, RawArticle):
        return
    if message.title is not None and len(message.title) > limits.title_chars:
        title = len(message.title)
        raise TooLarge(f"the title is {title:,} characters, over RASD_MAX_TITLE_CHARS={limits.title_chars}")
    if len(message.body) > limits.body_chars:
        body = len(message.body)
        raise TooLarge(f"the body is {body:,} characters, over RASD_MAX_BODY_CHARS={limits.body_chars}")


def check_outputs(emits: Sequence[Emit], limits: Limits) -> None:
    """Refuse outputs the producer could not send: larger than ``message_bytes`` with their key and overhead."""
    for emit in emits:
        size = message_size(emit.key, emit.value)
        if size > limits.message_bytes:
            raise TooLarge(
                f"its output to {emit.topic} would be {size:,} bytes with key and record overhead,"
                f" over RASD_MAX_MESSAGE_BYTES={limits.message_bytes}"
            )


class Stage(Protocol):
    """The functional core of one service."""

    name: str
    source: str  # the Topics field this stage consumes
    targets: tuple[str, ...]  # the Topics fields it may produce to
    input_model: type[BaseModel]

    def handle(self, message: BaseModel, *, now: float) -> Sequence[Output]:
        """Process one decoded message; raise on failure."""
        ...


def dead_letter(
    stage: str,
    topic: str,
    value: bytes | None,
    error: str,
    *,
    now: float,
    key: bytes | None = None,
    partition: int | None = None,
    offset: int | None = None,
    max_bytes: int = DEFAULT_LIMITS.message_bytes,
) -> DeadLetter:
    """The DLQ record for a message that could not be processed: the original bytes and the reason.

    The letter itself must fit in ``max_bytes`` (the dead-letter topic has the producer's limit too): an
    original too large for that (over ~700 KB with the default 1 MB) keeps its first bytes only, and the
    error says so with the whole original's size and SHA-256 (it is still on its own topic at ``offset``).
    """
    raw = value or b""
    key_text = key[:DLQ_KEY_BYTES].decode("utf-8", "replace") if key is not None else None
    error = error[:2000]
    budget = max_bytes - _LETTER_FIXED_BYTES - 7 * DLQ_KEY_BYTES - 6 * (len(stage) + len(topic)) - RECORD_OVERHEAD
    kept = max(budget, 0) // 4 * 3  # base64 takes 4 bytes for every 3
    if len(raw) > kept:
        digest = hashlib.sha256(raw).hexdigest()
        error += f" [original_b64 holds the first {kept:,} of {len(raw):,} bytes; sha256 of the whole: {digest}]"
    return DeadLetter(
        stage=stage,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key_text,
        error=error,
        original_b64=base64.b64encode(raw[:kept]).decode(),
        original_text=raw[:40_000].decode("utf-8", "replace")[:10000],  # 10,000 characters take <= 40,000 bytes
        timestamp=now,
    )


_DECODE_ERRORS = ("empty message", "not valid JSON", "expected a JSON object", "invalid ")


def reason_of(error: str) -> str:
    """The reason of a dead letter from its ``error`` text: ``too_large`` and ``send`` letters say it first
    (``too_large: ...``), a decode error is the codec's message, anything else is ``process`` (``Type: ...``)."""
    head = error.split(":", 1)[0]
    if head in ("too_large", "send"):
        return head
    return "decode" if error.startswith(_DECODE_ERRORS) else "process"


def _ingested_at(models: Sequence[BaseModel | None]) -> float | None:
    """When the normalizer first saw the article (the start of end-to-end latency), if known."""
    for model in models:
        ingested = getattr(model, "ingested_at", None)
        if isinstance(ingested, float):
            return ingested
    return None


def process_message(
    stage: Stage,
    value: bytes | None,
    *,
    now: float,
    topic: str,
    key: bytes | None = None,
    partition: int | None = None,
    offset: int | None = None,
    metrics: StageMetrics | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Emit]:
    """Decode → handle → encode one message; failures become one ``dlq`` emit.

    Reasons (the ``reason`` label of ``rasd_errors_total``/``rasd_dead_letters_total``): ``decode`` (not a
    valid message), ``too_large`` (over a :class:`Limits` bound: before decoding, before the core, or its
    output), ``process`` (the core raised).  A ``too_large`` letter's error starts with ``too_large:``.
    """
    started, cpu_started = time.perf_counter(), time.thread_time()
    if metrics is not None:
        metrics.child(metrics.consumed, stage.source).inc()
    reason = "decode"
    outputs: Sequence[Output] = ()
    message: BaseModel | None = None
    try:
        check_input(stage, key, value, limits)
        message = decode(value, stage.input_model)
        check_article(message, limits)
        reason = "process"
        outputs = stage.handle(message, now=now)
        emits = [Emit(o.topic, o.key.encode(), encode(o.value)) for o in outputs]
        check_outputs(emits, limits)
    except Exception as exc:  # anything the core raises becomes a dead letter, never a dead agent
        if isinstance(exc, TooLarge):
            reason, error = "too_large", f"too_large: {exc}"
        else:
            error = str(exc) if isinstance(exc, DecodeError) else f"{type(exc).__name__}: {exc}"
        letter = dead_letter(stage.name, topic, value, error, now=now, key=key, partition=partition, offset=offset,
                             max_bytes=limits.message_bytes)
        emits = [Emit("dlq", (key or b"")[:DLQ_KEY_BYTES], encode(letter))]
        message, outputs = None, ()
        if metrics is not None:
            metrics.errors.labels(metrics.service, reason).inc()
            metrics.dead_letters.labels(metrics.service, reason).inc()
    if metrics is not None:
        metrics.child(metrics.processing).observe(time.perf_counter() - started)
        metrics.child(metrics.processing_cpu).inc(time.thread_time() - cpu_started)
        ingested = _ingested_at([message, *(o.value for o in outputs)])
        if ingested is not None:
            metrics.child(metrics.end_to_end).observe(max(time.time() - ingested, 0.0))
        metrics.observe_outputs(o.value for o in outputs)
        for emit in emits:
            metrics.child(metrics.produced, emit.topic).inc()
    return emits
