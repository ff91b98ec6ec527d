"""Prometheus files checked by Prometheus's own tool: rules parse, fire when they should (promtool's rule
unit tests), select only series the services export, and each has a runbook in docs/operations.md.

Why: a rule with a misspelt metric name is valid PromQL that never fires — exactly the failure nobody
notices until the outage it was written for.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.settings import DEFAULT_METRICS_PORTS, SERVICES

from .metered import exported_names, promql_metric_names, require_tool

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
RULES = PROM_DIR / "rules" / "rasd.rules.yml"
RULE_TESTS = PROM_DIR / "tests" / "rasd.rules.test.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
WEBHOOK_PORT = DEFAULT_METRICS_PORTS.get("webhook", 9105)  # the sink follows the 910x pattern


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [require_tool("promtool"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return exported_names(tmp_path_factory.mktemp("state"))


def test_promtool_check_rules() -> None:
    """The rules file parses and every expression is valid PromQL."""
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_rule_unit_tests() -> None:
    """Synthetic series make each self-alert fire (with its rendered text) and healthy stages stay quiet."""
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    """An alert without a promtool test case could be silently broken by the next edit."""
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {r["alert"] for r in rules()} == tested


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_promtool_check_config(config: str) -> None:
    """Both scrape configs (Compose and local) are valid for Prometheus, rule files included."""
    result = promtool("check", "config", str(PROM_DIR / config))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_rules_select_exported_series(rule: dict[str, Any], exported: set[str]) -> None:
    """Every metric a rule reads is exported by the services (or is Prometheus's own ``up``)."""
    used = promql_metric_names(rule["expr"])
    assert used, rule["expr"]
    assert used <= exported | {"up"}, f"{rule['alert']}: not exported: {sorted(used - exported)}"


def test_service_down_rule_covers_every_job() -> None:
    """``RasdServiceDown`` names the jobs explicitly: a service added to the settings must be added there."""
    [rule] = [r for r in rules() if r["alert"] == "RasdServiceDown"]
    jobs = set(re.search(r'job=~"([^"]+)"', rule["expr"]).group(1).split("|"))  # type: ignore[union-attr]
    assert set(DEFAULT_METRICS_PORTS) | {"webhook"} == jobs


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_alert_has_a_runbook(rule: dict[str, Any]) -> None:
    """The page someone gets at night says what to do: a runbook section in docs/operations.md."""
    link = rule["annotations"]["runbook"]
    path, _, anchor = link.partition("#")
    assert path == "docs/operations.md" and anchor == rule["alert"].lower()
    headings = re.findall(r"^#+\s+(.+)$", OPERATIONS.read_text(encoding="utf-8"), flags=re.M)
    assert any(h.strip().strip("`").lower() == anchor for h in headings), f"no section {rule['alert']} in {path}"
    assert rule["labels"]["severity"] in {"critical", "warning"}


def _jobs(name: str) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((PROM_DIR / name).read_text(encoding="utf-8"))
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_scrape_configs_cover_every_service_with_metrics() -> None:
    """A service with a metrics port in the settings (the webhook sink too, once it has one) is scraped."""
    compose, local = _jobs("prometheus.yml"), _jobs("prometheus.local.yml")
    assert set(DEFAULT_METRICS_PORTS) <= set(compose), "prometheus.yml misses a service"
    assert set(DEFAULT_METRICS_PORTS) <= set(local), "prometheus.local.yml misses a service"
    assert set(SERVICES) <= set(DEFAULT_METRICS_PORTS)
    [webhook] = compose["webhook"]["dns_sd_configs"]
    assert webhook["names"] == ["webhook"] and webhook["port"] == WEBHOOK_PORT
