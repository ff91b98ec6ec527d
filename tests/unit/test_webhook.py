"""The webhook sink: signature, retry schedule, and delivery against a real local HTTP receiver.

Why: subscribers trust a webhook only if they can verify who sent it, and the desk trusts it only
if a flaky receiver still gets the alert (retries) and a dead one does not lose it (dead letter).
The receiver is a real aiohttp server on 127.0.0.1; only the backoff sleeps are shortened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from schemas.codec import encode
from schemas.models import Alert
from services.common.settings import WebhookSettings
from services.common.stage import dead_letter
from services.webhook.core import (
    FAILURE_REASONS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    backoff_schedule,
    failure_reason,
    failure_text,
    parse_urls,
    request_headers,
    retryable,
    signature,
    verify,
)
from services.webhook.replay import ReplayReport, target_url
from services.webhook.sender import RetryPolicy, WebhookMetrics, deliver

SECRET = "s3cret"
ALERT = Alert(alert_id="alert-1", article_id="a1", story_id="s1", severity="high", score=12.5, matches=[],
              entities=[], title="غارات جوية", snippet="قتل 12 مدنيا", language="ar", detected_at=1.0)
FAST = RetryPolicy(attempts=4, base=0.01, cap=0.02, timeout=2.0)


class Receiver:
    """A local webhook receiver that fails the first ``fail`` requests with ``status``, then accepts."""

    def __init__(self, fail: int = 0, status: int = 503) -> None:
        self.fail, self.status = fail, status
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if len(self.requests) <= self.fail:
            return web.Response(status=self.status)
        return web.Response(status=204)


@pytest.fixture
async def serve() -> AsyncIterator[object]:
    runners: list[web.AppRunner] = []

    async def start(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/hook"

    yield start
    for runner in runners:
        await runner.cleanup()


async def send(url: str, registry: CollectorRegistry, policy: RetryPolicy = FAST) -> object:
    async with aiohttp.ClientSession() as session:
        return await deliver(session, url, encode(ALERT), alert_id=ALERT.alert_id, secret=SECRET,
                             policy=policy, metrics=WebhookMetrics(registry))


def count(registry: CollectorRegistry, result: str) -> float | None:
    return registry.get_sample_value("rasd_webhook_deliveries_total", {"result": result})


async def test_delivered_with_a_verifiable_signature(serve) -> None:  # type: ignore[no-untyped-def]
    """The receiver gets the alert JSON and can verify the signature over the exact bytes it read."""
    receiver = Receiver()
    registry = CollectorRegistry()
    outcome = await send(await serve(receiver), registry)
    assert outcome.delivered and outcome.attempts == 1  # type: ignore[attr-defined]
    [(headers, body)] = receiver.requests
    assert body == encode(ALERT) and headers["X-Rasd-Alert-Id"] == "alert-1"
    assert verify(SECRET, headers, body, now=float(headers[TIMESTAMP_HEADER]))
    assert not verify("other-secret", headers, body, now=float(headers[TIMESTAMP_HEADER]))
    assert not verify(SECRET, headers, body.replace(b"12.5", b"13.5"), now=float(headers[TIMESTAMP_HEADER]))
    assert count(registry, "delivered") == 1 and count(registry, "failed") == 0
    assert registry.get_sample_value("rasd_webhook_request_seconds_count") == 1


async def test_flaky_receiver_is_retried_until_it_accepts(serve) -> None:  # type: ignore[no-untyped-def]
    """Two 503s then a 204: three attempts, two retries counted, delivered, each attempt freshly signed."""
    receiver = Receiver(fail=2)
    registry = CollectorRegistry()
    outcome = await send(await serve(receiver), registry)
    assert outcome.delivered and outcome.attempts == 3  # type: ignore[attr-defined]
    assert count(registry, "retried") == 2 and count(registry, "delivered") == 1
    assert all(verify(SECRET, h, b, now=float(h[TIMESTAMP_HEADER])) for h, b in receiver.requests)


async def test_dead_receiver_fails_after_the_last_attempt(serve) -> None:  # type: ignore[no-untyped-def]
    """Always 500: exactly ``attempts`` tries, then a failure (the agent dead-letters it)."""
    receiver = Receiver(fail=100, status=500)
    registry = CollectorRegistry()
    outcome = await send(await serve(receiver), registry)
    assert not outcome.delivered and outcome.attempts == FAST.attempts  # type: ignore[attr-defined]
    assert outcome.error == "HTTP 500" and len(receiver.requests) == FAST.attempts  # type: ignore[attr-defined]
    assert count(registry, "failed") == 1 and count(registry, "retried") == FAST.attempts - 1
    assert registry.get_sample_value("rasd_webhook_failures_total", {"reason": "http_5xx"}) == 1


async def test_permanent_client_error_is_not_retried(serve) -> None:  # type: ignore[no-untyped-def]
    """A 404 or 401 will not heal by waiting: one attempt, then failed."""
    receiver = Receiver(fail=100, status=404)
    outcome = await send(await serve(receiver), CollectorRegistry())
    assert not outcome.delivered and len(receiver.requests) == 1  # type: ignore[attr-defined]


async def test_unreachable_url_fails_after_retries() -> None:
    """Nobody listening (connection refused) is retried like a 5xx, then fails."""
    from tests.integration.helpers import free_port

    registry = CollectorRegistry()
    outcome = await send(f"http://127.0.0.1:{free_port()}/hook", registry)
    assert not outcome.delivered and outcome.status is None  # type: ignore[attr-defined]
    assert count(registry, "failed") == 1
    assert registry.get_sample_value("rasd_webhook_failures_total", {"reason": "connection"}) == 1


def test_backoff_is_exponential_and_bounded() -> None:
    """Waits double from ``base`` and never exceed ``cap``; n attempts have n-1 waits."""
    assert backoff_schedule(5, base=0.5, cap=3.0) == [0.5, 1.0, 2.0, 3.0]
    assert backoff_schedule(1, base=0.5, cap=3.0) == []


@pytest.mark.parametrize(("status", "expected"), [(None, True), (500, True), (503, True), (429, True),
                                                  (408, True), (400, False), (401, False), (404, False)])
def test_retryable_statuses(status: int | None, expected: bool) -> None:
    """Server errors, throttling and timeouts are worth retrying; other client errors are not."""
    assert retryable(status) is expected


def test_signature_covers_timestamp_and_body() -> None:
    """The documented recipe: HMAC-SHA256 of ``<timestamp>.<body>``; stale timestamps are rejected."""
    body = encode(ALERT)
    headers = request_headers(body, secret=SECRET, alert_id="alert-1", now=1000.0)
    assert headers[SIGNATURE_HEADER] == signature(SECRET, 1000, body)
    assert verify(SECRET, headers, body, now=1100.0)
    assert not verify(SECRET, headers, body, now=2000.0)
    assert not verify(SECRET, {**headers, TIMESTAMP_HEADER: "1001"}, body, now=1001.0)


def test_urls_are_parsed_and_checked() -> None:
    """``RASD_WEBHOOK_URLS`` is comma-separated; a non-http URL is a configuration error at start-up."""
    assert parse_urls(" http://a/x, ,https://b/y ") == ("http://a/x", "https://b/y")
    assert parse_urls("") == ()
    with pytest.raises(ValueError):
        parse_urls("ftp://a/x")


def test_failure_metrics_are_bounded_and_pre_initialised() -> None:
    """Why a delivery failed is one of five reasons whatever the error, and every series exists at 0 from the start
    (a rate over a series that appears only at the first failure misses that failure)."""
    registry = CollectorRegistry()
    WebhookMetrics(registry)
    for reason in FAILURE_REASONS:
        assert registry.get_sample_value("rasd_webhook_failures_total", {"reason": reason}) == 0
    for reason in ("undelivered", "decode"):
        assert registry.get_sample_value("rasd_webhook_dead_letters_total", {"reason": reason}) == 0
    assert failure_reason(None, "TimeoutError: ") == "timeout"
    assert failure_reason(None, "ServerTimeoutError: read") == "timeout"
    assert failure_reason(None, "ClientConnectorError: refused") == "connection"
    assert failure_reason(404, "HTTP 404") == "http_4xx" and failure_reason(503, "HTTP 503") == "http_5xx"
    assert failure_reason(302, "HTTP 302") == "http_other"


def test_new_sink_starts_at_the_latest_alert_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """``RASD_WEBHOOK_FROM``: latest unless told earliest; anything else is a configuration error."""
    monkeypatch.delenv("RASD_WEBHOOK_FROM", raising=False)
    assert WebhookSettings(webhook_secret="s").webhook_from == "latest"
    monkeypatch.setenv("RASD_WEBHOOK_FROM", "earliest")
    assert WebhookSettings(webhook_secret="s").webhook_from == "earliest"
    monkeypatch.setenv("RASD_WEBHOOK_FROM", "beginning")
    with pytest.raises(ValueError):
        WebhookSettings(webhook_secret="s")


def test_replay_finds_the_configured_url_of_a_dead_letter() -> None:
    """Letters hold redacted URLs; the replay sends to the configured URL whose redacted form starts the error."""
    urls = ("http://user:pw@hooks.example/a?token=1", "http://hooks.example/ab")
    letters = [dead_letter("webhook", "alerts", encode(ALERT), failure_text(url, "HTTP 503", 5), now=1.0)
               for url in (*urls, "http://other.example/a")]
    assert [target_url(letter, urls) for letter in letters] == [urls[0], urls[1], None]
    report = ReplayReport(read=3, sent=1, failed=1)
    report.skipped["URL not configured"] += 1
    assert report.summary("alerts.webhook.dlq") == (
        "rasd webhook replay: 3 dead letter(s) read from alerts.webhook.dlq: 1 sent, 1 failed "
        "(back on alerts.webhook.dlq), 1 skipped (1 URL not configured)")
