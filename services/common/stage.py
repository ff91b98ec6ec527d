"""What every stage shares: its interface, and the edge that turns bytes into calls.

A :class:`Stage` is the functional core of one service seen from the outside:
it declares the model it consumes and returns :class:`Output` values (topic
key, message key, model).  :func:`process_message` is the one edge used by the
Faust agents: decode the bytes with the codec, call the core, encode the
outputs, and turn *any* failure into a dead letter carrying the original bytes
and the reason — an agent never dies on bad input.  It has no Faust import, so
it is unit-tested directly.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from schemas.codec import DecodeError, decode, encode
from schemas.models import DeadLetter

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
) -> DeadLetter:
    """The DLQ record for a message that could not be processed: the original bytes and the reason."""
    raw = value or b""
    return DeadLetter(
        stage=stage,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        error=error[:2000],
        original_b64=base64.b64encode(raw).decode(),
        original_text=raw.decode("utf-8", "replace")[:10000],
        timestamp=now,
    )


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
) -> list[Emit]:
    """Decode → handle → encode one message; failures become one ``dlq`` emit."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    if metrics is not None:
        metrics.child(metrics.consumed, stage.source).inc()
    reason = "decode"
    outputs: Sequence[Output] = ()
    message: BaseModel | None = None
    try:
        message = decode(value, stage.input_model)
        reason = "process"
        outputs = stage.handle(message, now=now)
        emits = [Emit(o.topic, o.key.encode(), encode(o.value)) for o in outputs]
    except Exception as exc:  # anything the core raises becomes a dead letter, never a dead agent
        error = str(exc) if isinstance(exc, DecodeError) else f"{type(exc).__name__}: {exc}"
        letter = dead_letter(stage.name, topic, value, error, now=now, key=key, partition=partition, offset=offset)
        emits = [Emit("dlq", key or b"", encode(letter))]
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
