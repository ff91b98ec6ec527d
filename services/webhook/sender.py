"""The webhook sink's I/O: one alert POSTed to one URL, with retries, timing and counting.

Kept apart from the Faust agent so tests drive it against a real local HTTP server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram

from .core import FAILURE_REASONS, backoff_schedule, failure_reason, request_headers, retryable

RESULTS = ("delivered", "failed", "retried")
DEAD_LETTER_REASONS = ("undelivered", "decode")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookMetrics:
    """``rasd_webhook_deliveries_total{result}``, ``rasd_webhook_request_seconds`` (per attempt), why deliveries
    failed (``rasd_webhook_failures_total{reason}``, one per undelivered alert and URL, reasons
    :data:`~services.webhook.core.FAILURE_REASONS`) and what went to the dead-letter topic
    (``rasd_webhook_dead_letters_total{reason}``: ``undelivered`` or ``decode``).  Every label pre-initialised."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "rasd_webhook_deliveries_total", "Webhook delivery outcomes (retried counts each retry)", ["result"],
            registry=registry,
        )
        self.latency = Histogram(
            "rasd_webhook_request_seconds", "Time of one webhook POST attempt", buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "rasd_webhook_failures_total", "Undelivered alerts (per URL, after the last attempt), by reason",
            ["reason"], registry=registry,
        )
        self.dead_letters = Counter(
            "rasd_webhook_dead_letters_total", "Messages the webhook sink sent to its dead-letter topic, by reason",
            ["reason"], registry=registry,
        )
        for result in RESULTS:
            self.deliveries.labels(result)
        for reason in FAILURE_REASONS:
            self.failures.labels(reason)
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)


@dataclass(frozen=True)
class Outcome:
    """How one delivery to one URL ended."""

    url: str
    delivered: bool
    attempts: int
    status: int | None
    error: str


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    timeout: float = 10.0


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    alert_id: str,
    secret: str,
    policy: RetryPolicy,
    metrics: WebhookMetrics | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Outcome:
    """POST ``body`` to ``url`` until a 2xx, a permanent failure, or the retries run out."""
    waits = backoff_schedule(policy.attempts, base=policy.base, cap=policy.cap)
    status: int | None = None
    error = ""
    for attempt in range(1, len(waits) + 2):
        headers = request_headers(body, secret=secret, alert_id=alert_id, now=time.time())
        started = time.perf_counter()
        try:
            timeout = aiohttp.ClientTimeout(total=policy.timeout)
            async with session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                status = resp.status
                error = "" if 200 <= status < 300 else f"HTTP {status}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        if metrics is not None:
            metrics.latency.observe(time.perf_counter() - started)
        if not error:
            if metrics is not None:
                metrics.deliveries.labels("delivered").inc()
            return Outcome(url, True, attempt, status, "")
        if attempt > len(waits) or not retryable(status):
            break
        if metrics is not None:
            metrics.deliveries.labels("retried").inc()
        await sleep(waits[attempt - 1])
    if metrics is not None:
        metrics.deliveries.labels("failed").inc()
        metrics.failures.labels(failure_reason(status, error)).inc()
    return Outcome(url, False, attempt, status, error)
