"""No send failure is silent, and no article is too large for the producer (issue 16, item 1).

Why: a valid but huge article used to normalise to a 1.4 MB message the producer refused *in the agent*,
outside the dead-letter edge: the agent crashed, was restarted, the message was skipped without a trace and
every partition stalled ~5 s per restart.  Now the size limits are settings checked at the edge before any
work, every output is kept under the producer's limit, and whatever the producer or the broker still refuses
becomes a dead letter with reason ``send``.  The real broker is in tests/integration/test_hostile_input.py.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faust.exceptions import ProducerSendError
from faust.topics import Topic
from prometheus_client import CollectorRegistry

from schemas.codec import decode, encode
from schemas.models import DeadLetter, NormalizedArticle
from services.common.delivery import Delivery
from services.common.metrics import StageMetrics
from services.common.settings import DeduplicatorSettings, NormalizerSettings
from services.common.stage import (
    DEFAULT_LIMITS,
    Emit,
    Limits,
    dead_letter,
    message_size,
    process_message,
    reason_of,
)
from services.common.worker import make_app
from services.deduplicator.agent import build as build_deduplicator
from services.normalizer.agent import build as build_normalizer
from services.normalizer.stage import NormalizerStage

BODY = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في المدينة لخدمة السكان في المناطق المجاورة."


def raw(**fields: object) -> bytes:
    return orjson.dumps({"title": "خبر", "body": BODY, **fields})


def metrics_for(registry: CollectorRegistry) -> StageMetrics:
    return StageMetrics(registry, "normalizer", consumes=["raw"], produces=["normalized", "dlq"])


def count(registry: CollectorRegistry, name: str, reason: str) -> float | None:
    return registry.get_sample_value(name, {"service": "normalizer", "reason": reason})


# ---------------------------------------------------------------- limits at the edge


@pytest.mark.parametrize("key_len", [0, 1, 16, 200, 20_000])
@pytest.mark.parametrize("value_len", [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 5_000_000])
def test_the_edge_s_size_bound_is_at_least_what_aiokafka_compares_with_max_request_size(
    key_len: int, value_len: int
) -> None:
    key, value = b"k" * key_len, b"v" * value_len
    assert message_size(key, value) >= DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, [])


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"RAW_BYTES": "2048", "TITLE_CHARS": "10", "BODY_CHARS": "20", "MESSAGE_BYTES": "200000"}
    for name, value in limits.items():
        monkeypatch.setenv(f"RASD_MAX_{name}", value)
    assert NormalizerSettings().limits == Limits(raw_bytes=2048, title_chars=10, body_chars=20, message_bytes=200_000)
    assert NormalizerSettings.model_fields["max_message_bytes"].default == DEFAULT_LIMITS.message_bytes


def test_the_producer_s_max_request_size_is_the_message_limit(tmp_path: Path) -> None:
    settings = NormalizerSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path, max_message_bytes=300_000)
    app = make_app(settings, CollectorRegistry())
    assert app.conf.producer_max_request_size == 300_000


@pytest.mark.parametrize(
    ("value", "limits", "says"),
    [
        (raw(title="t" * 11), Limits(title_chars=10), "the title is 11 characters, over RASD_MAX_TITLE_CHARS=10"),
        (raw(body="b" * 21), Limits(body_chars=20), "the body is 21 characters, over RASD_MAX_BODY_CHARS=20"),
        (raw(body="b" * 3000), Limits(raw_bytes=2048), "over RASD_MAX_RAW_BYTES=2048"),
        (raw(body=" ".join(f"w{i}" for i in range(12_000))), Limits(message_bytes=131_072),
         "its output to normalized would be"),
    ],
    ids=["title", "body", "raw bytes", "output"],
)
def test_an_article_over_a_limit_is_a_too_large_dead_letter(value: bytes, limits: Limits, says: str) -> None:
    registry = CollectorRegistry()
    [emit] = process_message(NormalizerStage(), value, now=1.0, topic="articles.raw", key=b"k", limits=limits,
                             metrics=metrics_for(registry))
    letter = decode(emit.value, DeadLetter)
    assert emit.topic == "dlq" and letter.error.startswith("too_large: ") and says in letter.error
    assert reason_of(letter.error) == "too_large" and value.startswith(base64.b64decode(letter.original_b64))
    assert count(registry, "rasd_dead_letters_total", "too_large") == 1
    assert count(registry, "rasd_errors_total", "too_large") == 1


def test_an_article_at_the_limits_is_processed() -> None:
    limits = Limits(title_chars=10, body_chars=len(BODY))
    [emit] = process_message(NormalizerStage(), raw(title="t" * 10), now=1.0, topic="articles.raw", limits=limits)
    assert emit.topic == "normalized"


def test_the_title_and_body_are_checked_before_the_core_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise AssertionError("the core ran on an article over the limits")

    monkeypatch.setattr("services.normalizer.stage.normalize", boom)
    [emit] = process_message(NormalizerStage(), raw(title="t" * 1001), now=1.0, topic="articles.raw")
    assert reason_of(decode(emit.value, DeadLetter).error) == "too_large"


@pytest.mark.parametrize("message_bytes", [131_072, 1_000_000, 4_000_000])
@pytest.mark.parametrize("size", [1_000, 400_000, 2_000_000])
def test_a_dead_letter_always_fits_the_producer(message_bytes: int, size: int) -> None:
    """The letter of a huge original keeps its first bytes (and says so, with the whole's digest)."""
    original = ("\u0001" * size).encode()  # escaped as 6 bytes each in original_text: the worst case
    letter = encode(dead_letter("normalizer", "articles.raw", original, "x" * 5000, now=1.0, key=b"k" * 5000,
                                max_bytes=message_bytes))
    assert message_size(b"k" * 1024, letter) <= message_bytes
    kept = base64.b64decode(decode(letter, DeadLetter).original_b64)
    assert original.startswith(kept)
    assert (kept == original) == ("original_b64 holds the first" not in decode(letter, DeadLetter).error)


def test_a_raw_message_within_the_default_limit_is_kept_whole_in_its_dead_letter() -> None:
    """With the defaults, any raw message the normalizer accepts for decoding (up to RASD_MAX_RAW_BYTES, e.g. a
    100,000-character Arabic body written as \\uXXXX escapes) has a dead letter carrying all of it."""
    body = "\\u0643" * 100_000  # 6 bytes of JSON for each character
    value = b'{"title": "' + b"\\u0643" * 1_000 + b'", "body": "' + body.encode() + b'"}'
    assert len(value) <= DEFAULT_LIMITS.raw_bytes
    value = value + b" " * (DEFAULT_LIMITS.raw_bytes - len(value))
    letter = decode(encode(dead_letter("normalizer", "articles.raw", value, "ValueError: x", now=1.0, key=b"k")),
                    DeadLetter)
    assert base64.b64decode(letter.original_b64) == value


# ---------------------------------------------------------------- sends the producer or the broker refuses


class FakeTopic:
    """A sink like Faust's topic: ``send`` may raise, or return a future the 'broker' answers later."""

    def __init__(self, *, raise_on: set[int] | None = None, refuse: set[int] | None = None, auto: bool = False) -> None:
        self.raise_on, self.refuse, self.auto = raise_on or set(), refuse or set(), auto
        self.calls = 0
        self.sent: list[tuple[bytes | None, bytes | None]] = []
        self.futures: list[tuple[asyncio.Future[Any], int]] = []

    async def send(self, *, key: bytes | None = None, value: bytes | None = None) -> asyncio.Future[Any]:
        self.calls += 1
        call = self.calls
        if call in self.raise_on:
            raise ProducerSendError("Error while sending") from MessageSizeTooLargeError("1378050 bytes")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append((future, call))
        self.sent.append((key, value))
        if self.auto:
            self.answer()
        return future

    def answer(self) -> None:
        """The broker answers every pending send: the calls in ``refuse`` fail."""
        for future, call in self.futures:
            if not future.done():
                if call in self.refuse:
                    future.set_exception(RecordTooLargeError("over the topic's max.message.bytes"))
                else:
                    future.set_result(call)


def emits_for(value: bytes) -> list[Emit]:
    return process_message(NormalizerStage(), value, now=1.0, topic="articles.raw")


async def test_a_send_that_raises_becomes_a_send_dead_letter_and_the_next_message_goes_on() -> None:
    registry = CollectorRegistry()
    normalized, dlq = FakeTopic(raise_on={1}), FakeTopic(auto=True)
    delivery = Delivery("normalizer", {"normalized": normalized, "dlq": dlq}, metrics_for(registry))
    first, second = raw(id="a1"), raw(id="a2")
    await delivery.send(emits_for(first), value=first, topic="articles.raw", key=b"a1", partition=2, offset=7)
    await delivery.send(emits_for(second), value=second, topic="articles.raw", key=b"a2", partition=2, offset=8)
    [(key, value)] = dlq.sent
    letter = decode(value, DeadLetter)
    assert key == b"a1" and reason_of(letter.error) == "send"
    assert "ProducerSendError" in letter.error and "MessageSizeTooLargeError" in letter.error
    assert base64.b64decode(letter.original_b64) == first and (letter.partition, letter.offset) == (2, 7)
    assert [decode(v, NormalizedArticle).id for _, v in normalized.sent] == ["a2"]
    assert count(registry, "rasd_dead_letters_total", "send") == 1 and count(registry, "rasd_errors_total", "send") == 1


async def test_a_late_refusal_is_retried_alone_then_settled_before_the_commit() -> None:
    """The broker refused a batch: each output is sent again alone; the one refused alone is a dead letter,
    and ``settle`` (awaited before every commit) returns only once that letter is acknowledged."""
    registry = CollectorRegistry()
    normalized, dlq = FakeTopic(refuse={1, 2, 4}), FakeTopic()  # calls 1-2: the batch; 3: a1 alone; 4: a2 alone
    delivery = Delivery("normalizer", {"normalized": normalized, "dlq": dlq}, metrics_for(registry))
    values = [raw(id="a1"), raw(id="a2")]
    for i, value in enumerate(values):
        await delivery.send(emits_for(value), value=value, topic="articles.raw", key=b"k", offset=i)
    normalized.answer()  # the batch is refused
    await asyncio.sleep(0)
    assert delivery.pending == 2
    settled = asyncio.ensure_future(delivery.settle())
    for _ in range(5):
        await asyncio.sleep(0)
        normalized.answer()  # a1 alone gets through, a2 alone is refused
        dlq.answer()
    await asyncio.wait_for(settled, 1.0)
    assert delivery.pending == 0
    [(_, letter_bytes)] = dlq.sent
    letter = decode(letter_bytes, DeadLetter)
    assert letter.offset == 1 and "RecordTooLargeError" in letter.error and reason_of(letter.error) == "send"
    assert count(registry, "rasd_dead_letters_total", "send") == 1


async def test_a_commit_does_not_wait_forever_for_a_dead_letter_the_broker_does_not_answer() -> None:
    """With the broker away the letter stays unacknowledged: ``settle`` gives up after its timeout (the consumer
    then commits nothing), and the letter is still on its way, not cancelled."""
    normalized, dlq = FakeTopic(refuse={1, 2}), FakeTopic()
    delivery = Delivery("normalizer", {"normalized": normalized, "dlq": dlq})
    value = raw(id="a1")
    await delivery.send(emits_for(value), value=value, topic="articles.raw", key=b"a1", offset=0)
    normalized.answer()
    for _ in range(3):
        await asyncio.sleep(0)
        normalized.answer()  # refused alone too: its dead letter is sent, and never answered
    assert not await delivery.settle(timeout=0.05) and delivery.pending == 1
    dlq.answer()
    assert await delivery.settle(timeout=1.0) and delivery.pending == 0


async def test_a_dead_letter_the_producer_refuses_is_tried_again_then_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("services.common.delivery.DLQ_RETRY_S", 0.0)
    dlq = FakeTopic(raise_on={1, 2, 3})
    delivery = Delivery("normalizer", {"normalized": FakeTopic(), "dlq": dlq})
    bad = b"not json"
    await delivery.send(emits_for(bad), value=bad, topic="articles.raw", key=b"k", partition=1, offset=9)
    assert dlq.calls == 3 and "dead letter for articles.raw[1]@9 not sent after 3 tries" in caplog.text


# ---------------------------------------------------------------- the agent itself


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    record: list[tuple[str, bytes]] = []

    async def send(self: Topic[Any], *, key: bytes, value: bytes, **_: Any) -> None:
        if self.get_topic_name() == "articles.normalized" and b"refuse-me" in value:
            raise ProducerSendError("Error while sending") from MessageSizeTooLargeError("too large")
        record.append((self.get_topic_name(), value))

    monkeypatch.setattr(Topic, "send", send)
    return record


async def test_the_agent_survives_huge_and_refused_articles(sent: list[tuple[str, bytes]], tmp_path: Path) -> None:
    """The issue's case: a 300,000-character title, a body of 100,000 tokens and an output the producer
    refuses each become a dead letter with its reason; the valid article after them is processed."""
    registry = CollectorRegistry()
    app = build_normalizer(NormalizerSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path), registry)
    values = [raw(title="x" * 300_000), raw(body=" ".join(f"token{i}" for i in range(100_000))),
              raw(title="refuse-me"), raw(id="fine")]
    [agent] = app.agents.values()
    async with agent.test_context() as ctx:
        for value in values:
            await ctx.put(value, key=b"k")
    assert [t for t, _ in sent] == ["articles.dlq", "articles.dlq", "articles.dlq", "articles.normalized"]
    assert [reason_of(decode(v, DeadLetter).error) for _, v in sent[:3]] == ["too_large", "too_large", "send"]
    assert decode(sent[3][1], NormalizedArticle).id == "fine"
    assert count(registry, "rasd_dead_letters_total", "too_large") == 2
    assert count(registry, "rasd_dead_letters_total", "send") == 1


async def test_a_refused_forward_of_an_article_off_the_ordered_partition_is_a_send_dead_letter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The deduplicator forwards an article found off the ordered partition of ``articles.normalized`` through the
    same delivery as the stages: a forward the producer refuses becomes a dead letter, the next one goes through."""
    sent: list[tuple[str, bytes, int | None]] = []

    async def send(self: Topic[Any], *, key: bytes, value: bytes, partition: int | None = None, **_: Any) -> None:
        if self.get_topic_name() == "articles.normalized" and b"refuse-me" in value:
            raise ProducerSendError("Error while sending") from MessageSizeTooLargeError("too large")
        sent.append((self.get_topic_name(), value, partition))

    monkeypatch.setattr(Topic, "send", send)
    registry = CollectorRegistry()
    service = "deduplicator"
    app = build_deduplicator(DeduplicatorSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path), registry)
    [agent] = app.agents.values()
    async with agent.test_context() as ctx:
        await ctx.put(b'{"id": "refuse-me"}', key=b"a", partition=2)
        await ctx.put(b'{"id": "fine"}', key=b"b", partition=3)
    [(letter_topic, letter, _), (forward_topic, forwarded, partition)] = sent
    assert letter_topic == "articles.dlq" and (forward_topic, partition) == ("articles.normalized", 0)
    assert reason_of(decode(letter, DeadLetter).error) == "send"
    assert forwarded == b'{"id": "fine"}'
    assert registry.get_sample_value("rasd_dead_letters_total", {"service": service, "reason": "send"}) == 1
