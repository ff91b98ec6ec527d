"""The webhook sink service: ``alerts`` → HTTP POST to each configured URL; failures → ``alerts.webhook.dlq``.

Each alert is delivered to every URL concurrently; the agent moves on once every URL has either
acknowledged it or exhausted its retries (bounded: ``RASD_WEBHOOK_MAX_ATTEMPTS`` tries with
exponential backoff), so a dead receiver slows the sink down by at most the backoff budget per
alert and never blocks it.  An undeliverable alert becomes a :class:`schemas.models.DeadLetter`
(stage ``webhook``, the URL and last error, the original bytes) on the webhook dead-letter topic;
an undecodable message too.  Offsets are committed after processing: a crash redelivers, and the
``X-Rasd-Alert-Id`` header lets receivers drop repeats.  Each undelivered alert is one warning line (the URL
redacted) and counted (``rasd_webhook_failures_total{reason}``, ``rasd_webhook_dead_letters_total{reason}``);
``rasd webhook replay`` sends the dead letters again (:mod:`services.webhook.replay`).

Where a new sink starts: ``RASD_WEBHOOK_FROM=latest`` (the default) — a group with no stored position on a
partition has the partition's end committed for it when the worker starts (:func:`start_new_group_at_latest`), so
a sink added to a running pipeline sends the alerts raised from then on, not the whole retained history; then it
resumes from its commits like every worker.  ``earliest`` sends the history too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from schemas.codec import DecodeError, decode, encode
from schemas.models import Alert
from services.common.security import kafka_auth, redact_url, require_webhook_secret
from services.common.settings import CommonSettings, WebhookSettings
from services.common.stage import dead_letter
from services.common.worker import make_app

from .core import failure_text, parse_urls
from .sender import RetryPolicy, WebhookMetrics, deliver

log = logging.getLogger(__name__)


async def start_new_group_at_latest(bootstrap: str, auth: dict[str, Any], group: str, topic: str) -> dict[int, int]:
    """Commit, for ``group``, the end of every partition of ``topic`` it has no position on; returns them.

    Called before the worker's consumer starts.  A group with positions everywhere is left alone (a restart
    resumes), and so is a missing topic (no history to skip).  Committing rather than only seeking matters: the
    worker rewinds never-committed partitions to their beginning (services/common/worker.py, RewindingConsumer).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **auth)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # names no topic: never auto-creates one
        parts = cluster.partitions_for_topic(topic)
        if not parts:
            return {}
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        missing = [tp for tp in tps if await consumer.committed(tp) is None]
        if not missing:
            return {}
        ends = await consumer.end_offsets(missing)
        await consumer.commit({tp: ends[tp] for tp in missing})
        return {tp.partition: ends[tp] for tp in missing}
    finally:
        await consumer.stop()


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The webhook sink's Faust app."""
    assert isinstance(settings, WebhookSettings)
    urls = parse_urls(settings.webhook_urls)
    secret = settings.webhook_secret.get_secret_value()
    require_webhook_secret(secret, allow_unsigned=settings.webhook_allow_unsigned)
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_backoff_base,
                         settings.webhook_backoff_max, settings.webhook_timeout)
    app = make_app(settings, registry, worker_tag=worker_tag)
    app.conf.consumer_auto_offset_reset = settings.webhook_from  # this app only; the stages keep "earliest"
    if settings.webhook_from == "latest":
        first_start = app.on_first_start

        async def on_first_start() -> None:  # before the app's consumer starts; build() itself contacts no broker
            await first_start()
            try:
                skipped = await start_new_group_at_latest(settings.bootstrap_servers, kafka_auth(settings),
                                                          app.conf.id, settings.topics.alerts)
            except KafkaError as exc:  # e.g. the group is already running elsewhere: it has positions then
                log.warning("webhook sink: could not store a start at the latest alert (%s)", exc)
                return
            if skipped:
                log.info("webhook sink: new group %s starts at the latest alert (RASD_WEBHOOK_FROM=latest): "
                         "partition offsets %s", app.conf.id, skipped)

        app.on_first_start = on_first_start  # type: ignore[method-assign]
    alerts = app.topic(settings.topics.alerts, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    dlq = app.topic(settings.topics.webhook_dlq, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    metrics = WebhookMetrics(registry)

    async def sink(stream: faust.StreamT[Any]) -> None:
        log.log(logging.INFO if secret else logging.WARNING, "webhook sink: alerts to %s, %s",
                ", ".join(map(redact_url, urls)) or "no URL",
                "signed" if secret else "UNSIGNED (RASD_WEBHOOK_ALLOW_UNSIGNED=true)")
        async with aiohttp.ClientSession() as session:
            async for event in stream.events():
                msg = event.message
                try:
                    alert = decode(event.value, Alert)
                except DecodeError as exc:
                    letter = dead_letter("webhook", msg.topic, event.value, str(exc), now=time.time(), key=event.key,
                                         partition=msg.partition, offset=msg.offset)
                    await dlq.send(key=event.key, value=encode(letter))
                    metrics.dead_letters.labels("decode").inc()
                    log.warning("webhook: undecodable alert at %s[%s]@%s dead-lettered: %s", msg.topic, msg.partition,
                                msg.offset, exc)
                    continue
                body = encode(alert)
                outcomes = await asyncio.gather(*(
                    deliver(session, url, body, alert_id=alert.alert_id, secret=secret,
                            policy=policy, metrics=metrics) for url in urls))
                for out in outcomes:
                    if not out.delivered:
                        error = failure_text(out.url, out.error, out.attempts)
                        log.warning("webhook alert %s not delivered: %s", alert.alert_id, error)
                        letter = dead_letter("webhook", msg.topic, event.value, error, now=time.time(), key=event.key,
                                             partition=msg.partition, offset=msg.offset)
                        await dlq.send(key=event.key, value=encode(letter))
                        metrics.dead_letters.labels("undelivered").inc()

    app.agent(alerts, name="rasd.webhook")(sink)
    return app
