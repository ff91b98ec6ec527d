"""``rasd alerts``: a subscriber that filters (severity, entity, place, language) and resumes as a named group.

Why: alert consumers rely on both — a desk that only wants ``high`` must not see
``medium``, and a restarted subscriber must not replay what it already printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest
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


# --- private positions, shared groups, where a subscriber starts, unknown names --------------------------------


class Subscriber:
    """``rasd alerts --json …`` running in the background; its output in files read with deadlines."""

    def __init__(self, env: dict[str, str], tmp_path: Path, *args: str) -> None:
        self.out, self.err = tmp_path / f"{uuid.uuid4().hex}.out", tmp_path / f"{uuid.uuid4().hex}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "rasd", "alerts", "--json", *args], cwd=ROOT,
                                         env={**os.environ, **env}, stdout=out, stderr=err)

    def wait_ready(self, timeout: float = 60.0) -> str:
        """The line saying where it follows from: printed once its starting positions are fixed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.err.read_text().splitlines():
                if line.startswith("rasd alerts: following"):
                    return line
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.err.read_text()}"
            time.sleep(0.2)
        raise AssertionError(f"not ready within {timeout} s: {self.err.read_text()}")

    def alert_ids(self) -> list[str]:
        return [str(orjson.loads(line)["alert_id"]) for line in self.out.read_text().splitlines()]

    def wait_for(self, n: int, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(ids := self.alert_ids()) < n:
            assert time.monotonic() < deadline, f"{len(ids)} of {n} alerts within {timeout} s: {ids}"
            time.sleep(0.2)
        return ids

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


async def send_alerts(bootstrap: str, topic: str, numbers: range, *, partitions: int = 4,
                      entities: list[AlertEntity] | None = None) -> None:
    """Alerts n in ``numbers``, n to partition n % ``partitions`` (so every partition holds some)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in numbers:
            value = alert(n, "high")
            if entities is not None:
                value = value.model_copy(update={"entities": entities})
            await producer.send_and_wait(topic, encode(value), key=f"story-{n}".encode(), partition=n % partitions)
    finally:
        await producer.stop()


@pytest.fixture
def alerts_env(kafka_bootstrap: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    env, topics = isolated_env(tmp_path)
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    return env, topics.alerts


async def test_private_subscribers_each_see_every_new_alert(kafka_bootstrap: str, tmp_path: Path,
                                                            alerts_env: tuple[dict[str, str], str]) -> None:
    """Two editors without --group both see every alert (no shared default group splitting them); a private
    subscriber starts at the next alert, --from-beginning replays what the topic holds first."""
    env, topic = alerts_env
    await create_topics(kafka_bootstrap, [topic], partitions=4)
    await send_alerts(kafka_bootstrap, topic, range(0, 2))  # raised before anyone subscribed
    editors = [Subscriber(env, tmp_path, "--limit", "4") for _ in range(2)]
    history = Subscriber(env, tmp_path, "--from-beginning", "--limit", "6")
    try:
        for editor in editors:
            assert "new alerts, privately: every alert" in editor.wait_ready()
        assert "from the beginning of the topic, privately" in history.wait_ready()
        await send_alerts(kafka_bootstrap, topic, range(10, 14))
        for editor in editors:
            assert sorted(editor.wait_for(4)) == [f"alert-{n}" for n in range(10, 14)]
        assert sorted(history.wait_for(6)) == sorted(f"alert-{n}" for n in (0, 1, 10, 11, 12, 13))
        for subscriber in (*editors, history):
            assert subscriber.proc.wait(30) == 0  # --limit reached
    finally:
        for subscriber in (*editors, history):
            subscriber.stop()


async def test_a_group_shares_the_alerts_and_keeps_its_first_position(kafka_bootstrap: str, tmp_path: Path,
                                                                      alerts_env: tuple[dict[str, str], str]) -> None:
    """Members of one --group split the alerts (none seen twice); a new group started --from-latest stores that
    position at once, so what arrives while it is stopped is read when it comes back."""
    env, topic = alerts_env
    await create_topics(kafka_bootstrap, [topic], partitions=4)
    await send_alerts(kafka_bootstrap, topic, range(0, 2))
    members = [Subscriber(env, tmp_path, "--group", "desk", "--from-latest") for _ in range(2)]
    try:
        for member in members:
            member.wait_ready()
        await send_alerts(kafka_bootstrap, topic, range(10, 18))
        deadline = time.monotonic() + 60
        while sorted(i for m in members for i in m.alert_ids()) != [f"alert-{n}" for n in range(10, 18)]:
            assert time.monotonic() < deadline, [m.alert_ids() for m in members]
            time.sleep(0.2)
        assert all(member.alert_ids() for member in members), "each member gets a share"
    finally:
        assert [member.stop() for member in members] == [0, 0]

    late = Subscriber(env, tmp_path, "--group", "late", "--from-latest")
    try:
        assert "as group 'late'" in late.wait_ready()
    finally:
        late.stop()  # stopped before any alert arrived
    await send_alerts(kafka_bootstrap, topic, range(20, 22))
    assert sorted(rasd_alerts_ids(env, "--group", "late", "--limit", "2")) == ["alert-20", "alert-21"]


def rasd_alerts_ids(env: dict[str, str], *args: str) -> list[str]:
    return [str(a["alert_id"]) for a in rasd_alerts(env, *args)]


async def test_names_the_gazetteer_does_not_know_draw_a_warning(kafka_bootstrap: str,
                                                                alerts_env: tuple[dict[str, str], str]) -> None:
    """A typo filters everything out silently; the subscriber is warned — and a name found only in the alert
    (a person the tagger found by context) still matches."""
    env, topic = alerts_env
    await create_topics(kafka_bootstrap, [topic], partitions=4)
    local = [AlertEntity(canonical="rasd:person:qqzz-yyx", name="Qqzz Yyx", type="PERSON", mentions=[]),
             AlertEntity(canonical="rasd:loc:xqzvillex", name="Xqzvillex", type="LOC", mentions=[])]
    await send_alerts(kafka_bootstrap, topic, range(1), entities=local)
    proc = subprocess.run(
        [sys.executable, "-m", "rasd", "alerts", "--json", "--from-beginning", "--limit", "1",
         "--entity", "Qqzz Yyx", "--place", "Xqzvillex", "--place", "Lebanon"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [orjson.loads(line)["alert_id"] for line in proc.stdout.splitlines()] == ["alert-0"]
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "rasd alerts: warning: --entity 'Qqzz Yyx' names nothing the gazetteer knows; only alerts whose own entities "
        "carry exactly that name or id will pass (check the spelling)",
        "rasd alerts: warning: --place 'Xqzvillex' names no place the gazetteer knows; only alerts whose own "
        "entities carry exactly that name or id will pass (check the spelling)",
    ]
