"""``rasd webhook replay``: send the webhook sink's dead letters again, once the receiver is back.

Reads ``alerts.webhook.dlq`` as its own consumer group (``<app id>-replay`` unless told otherwise) up to the
end it had when the replay started, so each dead letter is replayed once per group and what a replay puts back
is left for the next one.  For each letter of stage ``webhook`` whose original is an alert:

* the body is the letter's original bytes (the alert exactly as it was on the ``alerts`` topic), signed afresh
  like the sink signs, with the same ``X-Rasd-Alert-Id`` — the receiver's idempotency key, so a receiver that
  did get it once drops the repeat;
* the URL is the configured one (``RASD_WEBHOOK_URLS``) whose redacted form starts the letter's error (letters
  hold redacted URLs only); retried with the sink's policy (``RASD_WEBHOOK_MAX_ATTEMPTS``…);
* a replay that fails again is a new dead letter on the same topic (same original, position and key; the new
  error), so nothing is lost and the next replay tries it again.

Other letters (an undecodable alert, a truncated original, a URL no longer configured) are skipped with the
reason and left where they are.  The group's position is committed after each batch, once its failures are
back on the topic.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.codec import DecodeError, decode, encode
from schemas.models import Alert, DeadLetter
from services.common.security import kafka_auth, redact_url
from services.common.settings import WebhookSettings
from services.common.stage import dead_letter

from .core import failure_text, parse_urls
from .sender import RetryPolicy, deliver


@dataclass
class ReplayReport:
    """What a replay did: letters read, sent, failed (back on the DLQ), skipped by reason."""

    read: int = 0
    sent: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)  # one per failure or skip, for the operator

    def summary(self, topic: str) -> str:
        skipped = sum(self.skipped.values())
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        return (f"rasd webhook replay: {self.read} dead letter(s) read from {topic}: {self.sent} sent, "
                f"{self.failed} failed (back on {topic}), {skipped} skipped" + (f" ({why})" if why else ""))


def target_url(letter: DeadLetter, urls: tuple[str, ...]) -> str | None:
    """The configured URL the letter was meant for: its error starts with that URL, redacted."""
    for url in urls:
        if letter.error.startswith(redact_url(url) + ": "):
            return url
    return None


async def replay(settings: WebhookSettings, bootstrap: str, *, group: str | None = None,
                 idle_timeout: float = 10.0) -> ReplayReport:
    """Replay the dead letters up to the topic's current end (see the module's text); returns the report."""
    urls = parse_urls(settings.webhook_urls)
    secret = settings.webhook_secret.get_secret_value()
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_backoff_base,
                         settings.webhook_backoff_max, settings.webhook_timeout)
    topic = settings.topics.webhook_dlq
    auth = kafka_auth(settings)
    report = ReplayReport()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group or f"{settings.app_id}-replay",
                                enable_auto_commit=False, auto_offset_reset="earliest", **auth)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                max_request_size=settings.max_message_bytes, **auth)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # names no topic: never auto-creates the DLQ
        parts = cluster.partitions_for_topic(topic)
        if not parts:
            return report
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        await producer.start()
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + idle_timeout
            while pending and time.monotonic() < deadline:
                batch = await consumer.getmany(*pending, timeout_ms=500)
                done: dict[TopicPartition, int] = {}
                for tp, records in batch.items():
                    for record in records:
                        if record.offset >= ends[tp]:
                            break
                        await _replay_one(record.value or b"", urls, secret, policy, session, producer, topic, report)
                        done[tp] = record.offset + 1
                if done:
                    await consumer.commit(done)  # after the failures are back on the topic
                    deadline = time.monotonic() + idle_timeout
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await producer.stop()
        await consumer.stop()
    return report


async def _replay_one(value: bytes, urls: tuple[str, ...], secret: str, policy: RetryPolicy,
                      session: aiohttp.ClientSession, producer: AIOKafkaProducer, topic: str,
                      report: ReplayReport) -> None:
    report.read += 1
    try:
        letter = decode(value, DeadLetter)
        original = base64.b64decode(letter.original_b64)
    except (DecodeError, ValueError):
        report.skipped["not a dead letter"] += 1
        return
    if letter.stage != "webhook":
        report.skipped[f"stage {letter.stage}"] += 1
        return
    try:
        alert = decode(original, Alert)
    except DecodeError:
        report.skipped["original not an alert"] += 1
        report.lines.append(f"skipped: the original at {letter.topic}[{letter.partition}]@{letter.offset} is not an "
                            f"alert ({letter.error[:200]})")
        return
    url = target_url(letter, urls)
    if url is None:
        report.skipped["URL not configured"] += 1
        report.lines.append(f"skipped: alert {alert.alert_id}: its URL is not in RASD_WEBHOOK_URLS "
                            f"({letter.error[:200]})")
        return
    outcome = await deliver(session, url, original, alert_id=alert.alert_id, secret=secret, policy=policy)
    if outcome.delivered:
        report.sent += 1
        return
    report.failed += 1
    error = failure_text(url, outcome.error, outcome.attempts)
    report.lines.append(f"failed: alert {alert.alert_id}: {error}")
    again = dead_letter("webhook", letter.topic, original, error, now=time.time(),
                        key=letter.key.encode() if letter.key is not None else None,
                        partition=letter.partition, offset=letter.offset)
    await producer.send_and_wait(topic, encode(again), key=letter.key.encode() if letter.key is not None else None)
