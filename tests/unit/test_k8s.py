"""Static checks of the kustomize base in deploy/k8s: it parses, every file is listed, and it agrees with
the code — one Deployment per service running ``rasd worker <service>`` with its metrics port, settings
that exist, a metrics Service per Deployment, non-root pods.

Why: there is no cluster in CI; a wrong port or a misspelt setting would only show on someone's cluster
(pydantic-settings ignores unknown variables, a wrong port leaves the target down).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.topics import Topics
from services.common.settings import DEFAULT_METRICS_PORTS, SERVICES, SETTINGS_BY_SERVICE, CommonSettings

from .test_deploy import _valid_env

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    return data


def resources() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in kustomization()["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d)
    return docs


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in resources() if d["kind"] == kind}


def container(service: str) -> dict[str, Any]:
    [c] = of_kind("Deployment")[f"rasd-{service}"]["spec"]["template"]["spec"]["containers"]
    return c


def test_kustomization_lists_every_file() -> None:
    """Every manifest in the directory is a resource (a forgotten file is silently not deployed)."""
    kust = kustomization()
    assert kust["kind"] == "Kustomization" and kust["namespace"] == "rasd"
    listed = set(kust["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert {"name": "rasd", "newName": "rasd", "newTag": "local"} in kust["images"]


def test_one_deployment_per_service() -> None:
    assert set(of_kind("Deployment")) == {f"rasd-{s}" for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_its_worker_with_its_port(service: str) -> None:
    """The image's entrypoint is ``rasd``; the args pick the service; the metrics port is the service's,
    exposed, annotated for Prometheus and probed."""
    deployment = of_kind("Deployment")[f"rasd-{service}"]
    c = container(service)
    port = DEFAULT_METRICS_PORTS[service]
    assert c["image"] == "rasd" and c["args"] == ["worker", service]
    assert c["ports"] == [{"name": "metrics", "containerPort": port}]
    assert {e["name"]: e["value"] for e in c["env"]} == {f"RASD_{service.upper()}_METRICS_PORT": str(port)}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/scrape"] == "true"
    assert c["readinessProbe"]["httpGet"]["port"] == "metrics"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert c["envFrom"] == [{"configMapRef": {"name": "rasd-config"}},
                            {"secretRef": {"name": "rasd-secrets", "optional": True}}]


@pytest.mark.parametrize("service", SERVICES)
def test_pods_run_as_the_image_user_with_writable_state(service: str) -> None:
    """Non-root (uid 10001 like the Dockerfile), read-only root filesystem, and the data dir mounted."""
    spec = of_kind("Deployment")[f"rasd-{service}"]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    c = container(service)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    data_dir = of_kind("ConfigMap")["rasd-config"]["data"]["RASD_DATA_DIR"]
    assert data_dir in {m["mountPath"] for m in c["volumeMounts"]}


def test_configmap_holds_real_settings_that_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only variables some settings field reads; with them every service's settings validate, listen for
    Prometheus on all interfaces, and use the default topics."""
    import os

    data = of_kind("ConfigMap")["rasd-config"]["data"]
    unknown = sorted(k for k in data if k not in _valid_env(None))
    assert not unknown, f"not settings: {unknown}"
    for key in list(os.environ):
        if key.startswith("RASD_"):
            monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    for service in SERVICES:
        settings = SETTINGS_BY_SERVICE[service]()
        assert settings.metrics_host == "0.0.0.0" and settings.bootstrap_servers
        assert settings.topics == Topics()
        assert settings.partitions == CommonSettings.model_fields["partitions"].default


def test_secrets_stay_out_of_the_configmap() -> None:
    """Passwords and secrets come from the optional Secret rasd-secrets (envFrom), never the ConfigMap."""
    data = of_kind("ConfigMap")["rasd-config"]["data"]
    assert not [k for k in data if "PASSWORD" in k or "SECRET" in k]
    assert {"RASD_KAFKA_SASL_PASSWORD", "RASD_KAFKA_SSL_KEY_PASSWORD"} <= _valid_env(None)


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_service_selects_the_deployment_pods(service: str) -> None:
    """A headless Service per Deployment resolves to every replica, on the metrics port."""
    svc = of_kind("Service")[f"rasd-{service}-metrics"]
    pod_labels = of_kind("Deployment")[f"rasd-{service}"]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    port = DEFAULT_METRICS_PORTS[service]
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": port, "targetPort": "metrics"}]


def test_deduplicator_replicas_follow_the_ordered_partition_note() -> None:
    """Decisions run on one partition: more than two replicas buy nothing (docs/operations.md)."""
    replicas = {name: d["spec"]["replicas"] for name, d in of_kind("Deployment").items()}
    assert 1 <= replicas["rasd-deduplicator"] <= 2
    partitions = int(of_kind("ConfigMap")["rasd-config"]["data"]["RASD_PARTITIONS"])
    assert all(r <= partitions for r in replicas.values()), "replicas beyond the partitions sit idle"
