"""``rasd alerts``: a subscriber that filters (severity, entity, place, language) and resumes as a named group.

Why: alert consumers rely on both — a desk that only wants ``high`` must not see
``medium``, and a restarted subscriber must not replay what it already printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from rasd.kafka_local import create_topics
from schemas.codec import encode
from schemas.models import Alert, AlertEntity

from .helpers import isolated_env

ROOT = Path(__file__).resolve().parents[2]


SUDAN = AlertEntity(canonical="Q1049", name="Sudan", type="LOC", mentions=["السودان"])


def alert(n: int, severity: str) -> Alert:
    return Alert(
        alert_id=f"alert-{n}", article_id=f"article-{n}", severity=severity, score=10.0 + n, matches=[],  # type: ignore[arg-type]
        entities=[SUDAN] if n % 2 else [], title=f"title {n}", snippet="",
        language="ar" if n >= 3 else "en", detected_at=0.0,
    )


def rasd_alerts(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "rasd", "alerts", "--json", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [orjson.loads(line) for line in proc.stdout.splitlines()]


async def test_alerts_are_filtered_and_the_group_resumes(kafka_bootstrap: str, tmp_path: Path) -> None:
    env, topics = isolated_env(tmp_path)
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    await create_topics(kafka_bootstrap, [topics.alerts], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n, severity in enumerate(["medium", "high", "low", "high", "high"]):
            await producer.send_and_wait(topics.alerts, encode(alert(n, severity)), key=f"article-{n}".encode())
    finally:
        await producer.stop()

    first = rasd_alerts(env, "--min-severity", "high", "--group", "desk", "--limit", "2")
    assert [a["alert_id"] for a in first] == ["alert-1", "alert-3"]
    resumed = rasd_alerts(env, "--min-severity", "high", "--group", "desk", "--limit", "1")
    assert [a["alert_id"] for a in resumed] == ["alert-4"]
    everything = rasd_alerts(env, "--group", "audit", "--limit", "5")
    assert [a["severity"] for a in everything] == ["medium", "high", "low", "high", "high"]
    sudan_ar = rasd_alerts(env, "--entity", "السودان", "--place", "sudan", "--language", "ar", "--group", "sd",
                           "--limit", "1")
    assert [a["alert_id"] for a in sudan_ar] == ["alert-3"]
