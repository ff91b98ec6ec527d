"""The Grafana dashboard and its provisioning: a loadable dashboard whose every query is valid PromQL over
series the services really export, wired to the Prometheus of the Compose stack.

Why: Grafana shows "No data" for a misspelt metric instead of failing, so a dashboard drifts silently
away from the code; these checks derive the exported names from the services' own registries.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .metered import exported_names, promql_metric_names, require_tool

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "rasd.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "rasd.yml"
COMPOSE = ROOT / "docker-compose.yml"

# What Grafana substitutes before a query reaches Prometheus (also used by the integration test).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "15s", "$service": ".*"}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def queries() -> list[str]:
    """Every PromQL expression of the dashboard (panel targets and template variables' metric)."""
    return [t["expr"] for p in panels() for t in p["targets"]]


def resolved(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return exported_names(tmp_path_factory.mktemp("state"))


def test_dashboard_is_a_valid_grafana_dashboard() -> None:
    """The fields Grafana needs to provision it: uid, title, schemaVersion, panels with unique ids that
    fit the 24-column grid, each data panel with targets (unique refIds) on the provisioned datasource."""
    dash = dashboard()
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dash["uid"])
    assert dash["title"] and isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    datasource_uid = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"][0]["uid"]
    for panel in dash["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
    for panel in panels():
        assert panel["type"] in {"timeseries", "stat", "bargauge", "table"}, panel["type"]
        assert panel["targets"], f"{panel['title']}: no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        assert panel["datasource"]["uid"] == datasource_uid
        assert all(t["datasource"]["uid"] == datasource_uid and t["expr"].strip() for t in panel["targets"])
        assert panel["description"], f"{panel['title']}: say what the panel shows"


def test_panels_do_not_overlap() -> None:
    """Grafana pushes overlapping panels down on load, so a panel inserted without moving the ones below it
    lands somewhere else than the file says: every grid cell belongs to at most one panel."""
    owner: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        x, y, w, h = (panel["gridPos"][k] for k in "xywh")
        for cell in ((col, row) for col in range(x, x + w) for row in range(y, y + h)):
            assert cell not in owner, f"{panel['title']} overlaps {owner[cell]} at {cell}"
            owner[cell] = panel["title"]


def test_process_metrics_are_joined_to_their_stage() -> None:
    """``process_*`` series carry no ``service`` label (the scrape adds only job and instance), and Prometheus
    and the webhook sink export them too: each query reading them takes the service from the worker's
    ``rasd_build_info`` (one series per worker), so the Stage selector filters them like every other panel."""
    join = 'on (job, instance) group_left (service) rasd_build_info{service=~"$service"}'
    process = [q for q in queries() if any(name.startswith("process_") for name in promql_metric_names(q))]
    assert process
    for q in process:
        assert q.count("process_") == q.count(join), q


def test_template_variables_are_used_and_defined() -> None:
    """``$service`` filters the per-stage panels; every ``$variable`` in a query is one Grafana defines."""
    defined = {v["name"] for v in dashboard()["templating"]["list"]}
    used = {m for q in queries() for m in re.findall(r"\$(\w+)", q)}
    assert "service" in used
    assert used - {"__rate_interval", "__range", "__interval"} <= defined


def test_every_query_reads_exported_series(exported: set[str]) -> None:
    """Each metric a panel or variable reads is exported by the services (their real registries, Faust's
    sensor included) or is Prometheus's ``up``."""
    for variable in dashboard()["templating"]["list"]:
        match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["definition"])
        assert match and match.group(1) in exported, variable["definition"]
    for expr in queries():
        names = promql_metric_names(expr)
        assert names, expr
        assert names <= exported | {"up"}, f"not exported: {sorted(names - exported)} in {expr}"


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (variables substituted as Grafana does), wrapped as recording rules."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": resolved(q)} for i, q in enumerate(queries())
    ]}]}
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = subprocess.run(
        [require_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("figure", "series"),
    [
        ("throughput per stage", "rasd_messages_consumed_total"),
        ("processing latency", "rasd_processing_seconds_bucket"),
        ("end-to-end latency", "rasd_end_to_end_seconds_bucket"),
        ("consumer lag", "rasd_consumer_lag"),
        ("dead letters", "rasd_dead_letters_total"),
        ("duplicate ratio", "rasd_messages_produced_total"),
        ("duplicates by kind", "rasd_duplicates_total"),
        ("alerts by severity", "rasd_alerts_total"),
        ("entity mentions by type", "rasd_entity_mentions_total"),
        ("build info", "rasd_build_info"),
        ("worker CPU per replica", "process_cpu_seconds_total"),
        ("resident memory per replica", "process_resident_memory_bytes"),
        ("stage CPU (share of the worker's, per message)", "rasd_processing_cpu_seconds_total"),
        ("messages the stage CPU is divided by", "rasd_processing_seconds_count"),
    ],
)
def test_dashboard_shows_each_figure(figure: str, series: str) -> None:
    """The figures operators asked for each have a panel reading the right series."""
    assert any(series in promql_metric_names(q) for q in queries()), f"no panel for {figure}"


@pytest.mark.parametrize("series", ["rasd_processing_seconds_bucket", "rasd_end_to_end_seconds_bucket"])
def test_latency_panels_show_p50_p95_p99(series: str) -> None:
    """Latency is read as quantiles of the histograms, the three the tuning work is judged by."""
    found = {
        float(m) for q in queries() if series in q for m in re.findall(r"histogram_quantile\(([\d.]+)", q)
    }
    assert found == {0.5, 0.95, 0.99}


def test_no_query_groups_by_an_unbounded_label() -> None:
    """Entities are shown by type; a per-entity or per-article label would be unbounded."""
    for q in queries():
        for clause in re.findall(r"by \(([^)]*)\)", q):
            labels = {label.strip() for label in clause.split(",")}
            assert labels <= {"service", "topic", "partition", "reason", "kind", "severity", "type", "le", "job",
                              "result", "version", "kafka_version", "faust_version", "aiokafka_version"}, q


def test_provisioning_matches_compose() -> None:
    """Grafana in Compose reads the provisioning and dashboards mounted from here, reaches the Prometheus
    service, and is published on loopback only."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {target: source for source, target, *_ in (str(v).split(":") for v in grafana["volumes"])}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"][0]
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    [source] = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
    assert str(grafana["image"]).startswith("grafana/grafana:")
