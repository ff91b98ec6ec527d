"""``rasd worker webhook`` on the real broker: an alert on the topic reaches a local HTTP receiver, signed;
a receiver that always fails gets the bounded retries and the alert lands on the webhook dead-letter topic —
with its URL redacted there and in the log (the credentials and token in the URL never written).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaProducer

from rasd.kafka_local import create_topics
from rasd.runner import Workers
from schemas.codec import decode, encode
from schemas.models import Alert, DeadLetter
from services.webhook.core import TIMESTAMP_HEADER, verify

from .helpers import collect, count, free_port, isolated_env

SECRET = "integration-secret"


async def test_webhook_worker_delivers_and_dead_letters(kafka_bootstrap: str, tmp_path: Path) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def ok(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    env, topics = isolated_env(tmp_path / "data")
    broken_url = f"http://hook-user:url-token-1@127.0.0.1:{port}/broken?token=url-token-2"
    env |= {"RASD_WEBHOOK_URLS": f"http://127.0.0.1:{port}/ok,{broken_url}",
            "RASD_WEBHOOK_SECRET": SECRET, "RASD_WEBHOOK_MAX_ATTEMPTS": "3", "RASD_WEBHOOK_BACKOFF_BASE": "0.05"}
    await create_topics(kafka_bootstrap, [topics.alerts, topics.webhook_dlq], partitions=4)
    workers = Workers(kafka_bootstrap, log_dir=tmp_path / "logs", services=("webhook",),
                      ports={"webhook": free_port()}, extra_env=env)
    try:
        workers.start()
        await asyncio.to_thread(workers.wait_ready)
        alert = Alert(alert_id="alert-x", article_id="a-x", story_id="s-x", severity="high", score=9.0, matches=[],
                      entities=[], title="t", snippet="s", language="ar", detected_at=time.time())
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topics.alerts, encode(alert), key=b"s-x")
        finally:
            await producer.stop()
        seen = await collect(kafka_bootstrap, [topics.webhook_dlq], lambda s: count(s, topics.webhook_dlq) >= 1, 90)
        [(_, value)] = seen[topics.webhook_dlq]
        letter = decode(value, DeadLetter)
        assert letter.stage == "webhook"
        assert letter.error == f"http://127.0.0.1:{port}/broken: HTTP 503 after 3 attempt(s)"
        assert decode(letter.original_text.encode(), Alert) == alert
        [(headers, body)] = received
        assert decode(body, Alert) == alert
        assert verify(SECRET, headers, body, now=float(headers[TIMESTAMP_HEADER]))
        page = workers.procs[0].metrics_text() or ""
        assert 'rasd_webhook_deliveries_total{result="delivered"} 1.0' in page
        assert 'rasd_webhook_deliveries_total{result="retried"} 2.0' in page
        assert 'rasd_webhook_deliveries_total{result="failed"} 1.0' in page
        assert 'rasd_webhook_failures_total{reason="http_5xx"} 1.0' in page
        assert 'rasd_webhook_failures_total{reason="timeout"} 0.0' in page  # every reason pre-initialised
        assert 'rasd_webhook_dead_letters_total{reason="undelivered"} 1.0' in page
    finally:
        await asyncio.to_thread(workers.stop)
        await runner.cleanup()
    log = workers.procs[0].log_path.read_text(errors="replace")
    assert f"webhook sink: alerts to http://127.0.0.1:{port}/ok, http://127.0.0.1:{port}/broken, signed" in log
    assert f"not delivered: http://127.0.0.1:{port}/broken: HTTP 503" in log
    assert "url-token" not in log and SECRET not in log
