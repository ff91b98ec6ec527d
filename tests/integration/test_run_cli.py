"""``rasd run --once`` — the main job behind ``make run`` — end to end on the real broker.

Why: it is what a newcomer runs first; it must start the four workers, publish
the seeds, print their alerts and the metrics URLs, and exit cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.common.settings import SERVICES

from .helpers import free_port, isolated_env

ROOT = Path(__file__).resolve().parents[2]


def test_run_once_prints_seed_alerts_and_metrics_urls(kafka_bootstrap: str, tmp_path: Path) -> None:
    env, _ = isolated_env(tmp_path / "data")
    ports = {s: free_port() for s in SERVICES}
    env |= {f"RASD_{s.upper()}_METRICS_PORT": str(p) for s, p in ports.items()}
    env["RASD_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    env["RASD_WEB_PORT"] = str(web_port := free_port())
    proc = subprocess.run(
        [sys.executable, "-m", "rasd", "run", "--once", "--timeout", "120", "--state-dir", str(tmp_path / "run")],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for service, port in ports.items():
        assert f"http://127.0.0.1:{port}/metrics" in out, service
    assert "published 2 article(s)" in out
    assert f"the alert desk: http://127.0.0.1:{web_port}/" in out  # rasd web, started and stopped with the run
    alert_lines = [line for line in out.splitlines() if line.startswith(("[HIGH", "[MEDIUM"))]
    # The two seeds report one offensive: one story, so one alert (whichever seed the alerter decides first;
    # the other is suppressed, same severity).
    assert len(alert_lines) == 1, out
    assert "ناغورنو كاراباخ" in alert_lines[0] or "ستواصل عمليتها" in alert_lines[0]
