"""The webhook sink's second chances, on the real broker: ``rasd webhook replay`` and where a new sink starts.

Why: a receiver that was down for an hour must get that hour's alerts once it is back — replayed from the dead
letters exactly as they were, under the same idempotency key so a receiver that had one drops the repeat — and
a failed replay must not lose them.  And a sink added to a running pipeline must not POST the whole retained
history at a receiver that asked for new alerts.  The receiver is a real aiohttp server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer

from rasd.kafka_local import create_topics
from rasd.runner import Workers
from schemas.codec import decode, encode
from schemas.models import Alert, DeadLetter
from services.common.stage import dead_letter
from services.webhook.core import ALERT_ID_HEADER, TIMESTAMP_HEADER, failure_text, verify

from .helpers import collect, count, free_port, isolated_env

SECRET = "replay-secret"
ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """Answers 503 while ``failing``, else 204; keeps every request."""

    def __init__(self) -> None:
        self.failing = True
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if self.failing else 204)


async def serve(receiver: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook"


def alert(n: int) -> Alert:
    return Alert(alert_id=f"alert-{n}", article_id=f"a-{n}", story_id=f"s-{n}", severity="high", score=9.0,
                 matches=[], entities=[], title=f"t{n}", snippet="s", language="ar", detected_at=time.time())


async def produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def rasd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rasd", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


async def test_replay_resends_dead_letters_and_requeues_failures(kafka_bootstrap: str, tmp_path: Path) -> None:
    receiver = Receiver()
    runner, url = await serve(receiver)
    env, topics = isolated_env(tmp_path / "data")
    env |= {"RASD_BOOTSTRAP_SERVERS": kafka_bootstrap, "RASD_WEBHOOK_URLS": f"{url}?token=t0ken-1",
            "RASD_WEBHOOK_SECRET": SECRET, "RASD_WEBHOOK_MAX_ATTEMPTS": "2", "RASD_WEBHOOK_BACKOFF_BASE": "0.01"}
    await create_topics(kafka_bootstrap, [topics.alerts, topics.webhook_dlq], partitions=4)
    # The original as it stood on the alerts topic (indented JSON: the replay must send these bytes, not a re-encoding),
    # dead-lettered as the sink does it; and one for a URL that is no longer configured.
    original = orjson.dumps(alert(1).model_dump(mode="json"), option=orjson.OPT_INDENT_2)
    letters = [
        dead_letter("webhook", topics.alerts, original, failure_text(f"{url}?token=t0ken-1", "HTTP 503", 5),
                    now=time.time(), key=b"s-1", partition=2, offset=7),
        dead_letter("webhook", topics.alerts, encode(alert(2)), failure_text("http://gone.example/x", "HTTP 503", 5),
                    now=time.time(), key=b"s-2", partition=0, offset=3),
    ]
    await produce(kafka_bootstrap, topics.webhook_dlq, [(b"s-1", encode(letters[0])), (b"s-2", encode(letters[1]))])
    try:
        # 1. The receiver still fails: the letter goes back on the DLQ, exit 1.
        first = await asyncio.to_thread(rasd, "webhook", "replay", env=env)
        assert first.returncode == 1, first.stderr
        assert "2 dead letter(s) read" in first.stderr and "0 sent, 1 failed" in first.stderr, first.stderr
        assert "1 skipped (1 URL not configured)" in first.stderr, first.stderr
        assert f"failed: alert alert-1: {url}: HTTP 503 after 2 attempt(s)" in first.stderr
        assert "t0ken" not in first.stderr
        assert len(receiver.requests) == 2  # RASD_WEBHOOK_MAX_ATTEMPTS
        seen = await collect(kafka_bootstrap, [topics.webhook_dlq], lambda s: count(s, topics.webhook_dlq) >= 3, 30)
        key, value = seen[topics.webhook_dlq][2]
        again = decode(value, DeadLetter)
        assert key == "s-1" and again.original_b64 == letters[0].original_b64
        assert (again.stage, again.topic, again.partition, again.offset) == ("webhook", topics.alerts, 2, 7)
        assert again.error == f"{url}: HTTP 503 after 2 attempt(s)"

        # 2. The receiver is back: the requeued letter (only it: the group has passed the first two) is delivered.
        receiver.failing = False
        second = await asyncio.to_thread(rasd, "webhook", "replay", env=env)
        assert second.returncode == 0, second.stderr
        assert "1 dead letter(s) read" in second.stderr and "1 sent, 0 failed" in second.stderr, second.stderr
        headers, body = receiver.requests[-1]
        assert body == original  # the original bytes
        assert {h[ALERT_ID_HEADER] for h, _ in receiver.requests} == {"alert-1"}  # one idempotency key throughout
        assert verify(SECRET, headers, body, now=float(headers[TIMESTAMP_HEADER]))
        assert len(receiver.requests) == 3

        # 3. Nothing left to replay.
        third = await asyncio.to_thread(rasd, "webhook", "replay", env=env)
        assert third.returncode == 0 and "0 dead letter(s) read" in third.stderr, third.stderr
        assert len(receiver.requests) == 3
    finally:
        await runner.cleanup()


async def test_new_sink_starts_at_the_latest_alert_unless_told(kafka_bootstrap: str, tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.failing = False
    runner, url = await serve(receiver)
    env, topics = isolated_env(tmp_path / "data")
    env |= {"RASD_WEBHOOK_URLS": url, "RASD_WEBHOOK_SECRET": SECRET}
    await create_topics(kafka_bootstrap, [topics.alerts, topics.webhook_dlq], partitions=4)
    old = [alert(n) for n in (1, 2, 3)]
    await produce(kafka_bootstrap, topics.alerts, [(a.story_id.encode(), encode(a)) for a in old])
    prefix = env["RASD_APP_ID_PREFIX"]
    latest = Workers(kafka_bootstrap, log_dir=tmp_path / "latest", services=("webhook",),
                     ports={"webhook": free_port()}, extra_env=env | {"RASD_APP_ID_PREFIX": f"{prefix}-l"})
    earliest = Workers(kafka_bootstrap, log_dir=tmp_path / "earliest", services=("webhook",),
                       ports={"webhook": free_port()},
                       extra_env=env | {"RASD_APP_ID_PREFIX": f"{prefix}-e", "RASD_WEBHOOK_FROM": "earliest",
                                        "RASD_DATA_DIR": str(tmp_path / "data-e")})
    try:
        latest.start()
        earliest.start()
        await asyncio.to_thread(latest.wait_ready)
        await asyncio.to_thread(earliest.wait_ready)
        new = alert(4)
        await produce(kafka_bootstrap, topics.alerts, [(new.story_id.encode(), encode(new))])
        deadline = time.monotonic() + 90
        while len(receiver.requests) < 5 and time.monotonic() < deadline:  # 4 for earliest, 1 for latest
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # anything more the latest sink would wrongly send
        ids = sorted(h[ALERT_ID_HEADER] for h, _ in receiver.requests)
        assert ids == ["alert-1", "alert-2", "alert-3", "alert-4", "alert-4"], ids
    finally:
        await asyncio.to_thread(latest.stop)
        await asyncio.to_thread(earliest.stop)
        await runner.cleanup()
    log = latest.procs[0].log_path.read_text(errors="replace")
    assert "starts at the latest alert (RASD_WEBHOOK_FROM=latest)" in log
