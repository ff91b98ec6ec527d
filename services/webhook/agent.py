"""The webhook sink service: ``alerts`` → HTTP POST to each configured URL; failures → ``alerts.webhook.dlq``.

Each alert is delivered to every URL concurrently; the agent moves on once every URL has either
acknowledged it or exhausted its retries (bounded: ``RASD_WEBHOOK_MAX_ATTEMPTS`` tries with
exponential backoff), so a dead receiver slows the sink down by at most the backoff budget per
alert and never blocks it.  An undeliverable alert becomes a :class:`schemas.models.DeadLetter`
(stage ``webhook``, the URL and last error, the original bytes) on the webhook dead-letter topic;
an undecodable message too.  Offsets are committed after processing: a crash redelivers, and the
``X-Rasd-Alert-Id`` header lets receivers drop repeats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import faust
from prometheus_client import CollectorRegistry

from schemas.codec import DecodeError, decode, encode
from schemas.models import Alert
from services.common.security import redact_url, require_webhook_secret
from services.common.settings import CommonSettings, WebhookSettings
from services.common.stage import dead_letter
from services.common.worker import make_app

from .core import failure_text, parse_urls
from .sender import RetryPolicy, WebhookMetrics, deliver

log = logging.getLogger(__name__)


def build(settings: CommonSettings, registry: CollectorRegistry, *, worker_tag: str = "") -> faust.App:
    """The webhook sink's Faust app."""
    assert isinstance(settings, WebhookSettings)
    urls = parse_urls(settings.webhook_urls)
    secret = settings.webhook_secret.get_secret_value()
    require_webhook_secret(secret, allow_unsigned=settings.webhook_allow_unsigned)
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_backoff_base,
                         settings.webhook_backoff_max, settings.webhook_timeout)
    app = make_app(settings, registry, worker_tag=worker_tag)
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

    app.agent(alerts, name="rasd.webhook")(sink)
    return app
