"""A real Prometheus scrapes the four services on the real broker and sees what they do.

Why: the unit tests lint the metrics pages and the rules; only a real server proves the scrape config
reaches the endpoints, the counters move under traffic, the lag gauge is filled from the live consumer,
and the self-alerting rules evaluate against real series.  The server binds 127.0.0.1 on a free port and
keeps its data in the test's temporary directory.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rasd.inputs import read_articles
from rasd.kafka_io import publish
from rasd.kafka_local import create_topics
from rasd.top import render, snapshot
from services.common.settings import SERVICES

from ..unit.metered import require_tool
from ..unit.test_grafana import queries, resolved
from .helpers import collect, count, free_port, isolated_env, start_workers

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
NEAR_COPY = ROOT / "tests" / "data" / "near_copy_of_002.txt"


class Prometheus:
    """A Prometheus server started from a config file; queried over its HTTP API."""

    def __init__(self, config: Path, data_dir: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [
                require_tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
            return json.loads(resp.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (fails on a PromQL error)."""
        body = self.get("/api/v1/query", query=expr)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError("prometheus not ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Call ``check`` until it returns something truthy; fail with ``what`` and the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: deadline passed (last: {value!r})")
        time.sleep(1.0)


def local_config(ports: dict[str, int], path: Path) -> Path:
    """deploy/prometheus/prometheus.local.yml with this test's ports, a 1 s interval and absolute rule paths."""
    config = yaml.safe_load((PROM_DIR / "prometheus.local.yml").read_text(encoding="utf-8"))
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROM_DIR / f) for f in config["rule_files"]]
    for job in config["scrape_configs"]:
        if job["job_name"] in ports:
            job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    import asyncio

    env, topics = isolated_env(tmp_path / "data")
    asyncio.run(create_topics(kafka_bootstrap, topics.all(), partitions=4))
    workers = start_workers(kafka_bootstrap, env, tmp_path / "logs")
    ports = {proc.service: proc.metrics_port for proc in workers.procs}
    prometheus = Prometheus(local_config(ports, tmp_path / "prometheus.yml"), tmp_path / "tsdb", tmp_path / "prom.log")
    try:
        prometheus.wait_ready()
        yield workers, topics, prometheus
    finally:
        prometheus.stop()
        workers.stop()


async def test_prometheus_sees_every_stage_working(kafka_bootstrap: str, pipeline: tuple[Any, Any, Any]) -> None:
    workers, topics, prometheus = pipeline
    # Every service is a healthy target before any traffic: the first samples are the pre-initialised zeros.
    poll(
        lambda: {r["metric"]["job"] for r in prometheus.query("up == 1")} >= set(SERVICES),
        60, "all four targets up",
    )
    await publish(kafka_bootstrap, topics.raw, read_articles(SEEDS))
    await collect(kafka_bootstrap, [topics.unique], lambda s: count(s, topics.unique) >= 2, timeout=180)
    await publish(kafka_bootstrap, topics.raw, read_articles([NEAR_COPY]))
    await collect(
        kafka_bootstrap, [topics.alerts, topics.duplicates],
        lambda s: count(s, topics.alerts) >= 1 and count(s, topics.duplicates) >= 1, timeout=120,
    )

    # Non-zero throughput for each stage, as Prometheus computes it from its own samples.
    def throughput() -> dict[str, float]:
        rows = prometheus.query("sum by (service) (increase(rasd_messages_consumed_total[5m]))")
        rates = {r["metric"]["service"]: float(r["value"][1]) for r in rows}
        return rates if all(rates.get(s, 0.0) > 0 for s in SERVICES) else {}

    rates = poll(throughput, 60, "non-zero throughput for every stage")
    assert set(rates) == set(SERVICES)

    # The stage-specific counters arrived with their labels.
    def scraped(expr: str) -> dict[str, float]:
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in prometheus.query(expr)}

    poll(lambda: scraped('rasd_duplicates_total{kind="near"} > 0'), 30, "a near duplicate counted")
    poll(lambda: scraped("sum(rasd_alerts_total) > 0"), 30, "alerts counted")
    poll(lambda: scraped("sum(rasd_entity_mentions_total) > 0"), 30, "entity mentions counted")

    # The lag gauge is filled from the live consumer of every service, and drains to zero.
    def lag() -> dict[str, float]:
        rows = prometheus.query("sum by (service) (rasd_consumer_lag)")
        values = {r["metric"]["service"]: float(r["value"][1]) for r in rows}
        return values if set(values) >= set(SERVICES) and not any(values.values()) else {}

    poll(lag, 60, "consumer lag reported by every service and drained")

    # The self-alerting rules evaluate against these series without error, and none fires.
    def rules_ok() -> list[dict[str, Any]]:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        loaded = [rule for group in groups for rule in group["rules"]]
        return loaded if loaded and all(rule["health"] == "ok" for rule in loaded) else []

    loaded = poll(rules_ok, 30, "rules evaluated")
    assert {r["name"] for r in loaded} >= {"RasdServiceDown", "RasdStageStalled", "RasdDeadLetterRate"}
    assert not [r["name"] for r in loaded if r["state"] == "firing"]

    # Every dashboard query runs on the real server (Grafana's variables substituted) and the core
    # panels have data; so do the resource panels, whose process_* series get their stage from rasd_build_info.
    empty = []
    for expr in queries():
        if not prometheus.query(resolved(expr)):
            empty.append(expr)
    core = ("rasd_messages_consumed_total", "rasd_consumer_lag", "process_")
    assert not [e for e in empty if any(name in e for name in core)], empty

    # rasd top reads the same endpoints and shows every stage answering, with what it consumed.
    endpoints = {proc.service: [proc.metrics_url] for proc in workers.procs}
    current = snapshot(endpoints)
    assert all(f.up == 1 and f.consumed > 0 for f in current), render(current, None, 0.0)
