"""Static checks of the deployment files: Dockerfile, docker-compose.yml and the Prometheus configs.

There is no container engine in CI, so nothing here builds or starts anything.  Instead the files
are parsed (YAML with pyyaml, the Dockerfile as text) and compared with the Python code they must
agree with: service names, settings (``RASD_*`` variables), topic names, metrics ports and the
pinned Kafka version.  Each of these drifts silently otherwise: a misspelt variable is simply
ignored by pydantic-settings, a wrong port leaves a Prometheus target down, a missing topic makes
the services fail only at run time, on someone else's machine.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from rasd.kafka_local import KAFKA_VERSION
from schemas.topics import Topics
from services.common.settings import DEFAULT_METRICS_PORTS, SERVICES, SETTINGS_BY_SERVICE, CommonSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_COMPOSE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
PROMETHEUS_LOCAL = ROOT / "deploy" / "prometheus" / "prometheus.local.yml"

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}$")

# --------------------------------------------------------------------------- helpers


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svcs = compose.get("services")
    assert isinstance(svcs, dict), "docker-compose.yml has no services"
    return svcs


def _env_spec(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment (mapping or list of NAME=value); ``None`` marks a variable listed
    without a value, which compose passes through from the shell only when it is set there."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        parts = [str(item).partition("=") for item in env]
        return {name: value if sep else None for name, sep, value in parts}
    return {str(k): None if v is None else str(v) for k, v in env.items()}


def _env(service: dict[str, Any]) -> dict[str, str]:
    """The variables a service gets when nothing is set in the shell (pass-throughs are unset)."""
    return {k: v for k, v in _env_spec(service).items() if v is not None}


def _resolve(value: str) -> str:
    """The value compose uses when the variable is not set in the shell: ``${X:-d}`` → ``d``."""
    m = INTERPOLATION.match(value.strip())
    if m is None:
        return value
    return m.group("default") or ""


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _settings_env_names(cls: type[BaseSettings]) -> set[str]:
    """The variable names a settings class reads: prefix + field name, upper-cased."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in cls.model_fields}


def _valid_env(service: str | None) -> set[str]:
    """RASD_* names a service reads; ``None`` = names any service reads (for kafka-init)."""
    classes: list[type[BaseSettings]] = (
        [SETTINGS_BY_SERVICE[service]] if service is not None else [CommonSettings, *SETTINGS_BY_SERVICE.values()]
    )
    names = set().union(*(_settings_env_names(c) for c in classes))
    return names | _settings_env_names(Topics)


def _published_ports(service: dict[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(host IP or None, spec) for each ``ports`` entry, short or long syntax."""
    for spec in service.get("ports") or []:
        if isinstance(spec, dict):
            yield spec.get("host_ip"), json.dumps(spec)
            continue
        text = str(spec).split("/", 1)[0]
        if text.startswith("["):  # [::1]:9094:9094
            host, _, _rest = text[1:].partition("]")
            yield host, str(spec)
            continue
        parts = text.split(":")
        yield (parts[0] if len(parts) == 3 else None), str(spec)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with comments dropped and continuation lines joined."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    out: list[tuple[str, str]] = []
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instr in _dockerfile_instructions():
        if instr[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instr)
    return stages


def _dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in stage:
        if keyword == "ENV":
            for token in shlex.split(args):
                if "=" in token:
                    k, v = token.split("=", 1)
                    env[k] = v
    return env


# --------------------------------------------------------------------------- compose: services


def test_compose_has_all_services(services: dict[str, dict[str, Any]]) -> None:
    """The stack is broker, topic initialiser, the four stages and Prometheus: none may go missing."""
    expected = {"kafka", "kafka-init", "prometheus", *SERVICES}
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_command_is_its_worker(services: dict[str, dict[str, Any]], name: str) -> None:
    """Each container runs ``rasd worker <name>``; a copy-paste slip would run one stage twice."""
    assert _command(services[name]) == ["worker", name]


@pytest.mark.parametrize("name", SERVICES)
def test_services_share_the_built_image(services: dict[str, dict[str, Any]], name: str) -> None:
    """The four stages are one image built from the Dockerfile here, not something pulled."""
    svc = services[name]
    build = svc.get("build")
    context = build.get("context") if isinstance(build, dict) else build
    assert context in {".", "./"}, f"{name}: build context is {build!r}"
    images = {services[s].get("image") for s in SERVICES}
    assert len(images) == 1, f"the four services should share one image tag, got {images}"


@pytest.mark.parametrize("name", SERVICES)
def test_services_wait_for_topics(services: dict[str, dict[str, Any]], name: str) -> None:
    """Workers start only after kafka-init created the topics with the right partition count."""
    deps = services[name].get("depends_on")
    assert isinstance(deps, dict) and "kafka-init" in deps, f"{name} must depend on kafka-init"
    assert deps["kafka-init"].get("condition") == "service_completed_successfully"


def test_kafka_init_waits_for_a_healthy_broker(services: dict[str, dict[str, Any]]) -> None:
    """Creating topics against a broker that is not up yet fails the whole stack at start-up."""
    deps = services["kafka-init"].get("depends_on")
    assert isinstance(deps, dict) and deps.get("kafka", {}).get("condition") == "service_healthy"


# --------------------------------------------------------------------------- compose: settings


@pytest.mark.parametrize("name", ["kafka-init", *SERVICES])
def test_every_rasd_variable_is_a_real_setting(services: dict[str, dict[str, Any]], name: str) -> None:
    """pydantic-settings ignores unknown variables, so a typo (RASD_DEDUP_TRESHOLD) would be silently
    dropped and the service would run with its default: only names a settings field reads are allowed."""
    valid = _valid_env(None if name == "kafka-init" else name)
    unknown = sorted(k for k in _env_spec(services[name]) if k.startswith("RASD_") and k not in valid)
    assert not unknown, f"{name}: not a setting of this service: {unknown}"


def test_validity_check_catches_a_typo() -> None:
    """The check above is only worth something if it rejects a misspelt name."""
    assert "RASD_DEDUP_THRESHOLD" in _valid_env("deduplicator")
    assert "RASD_DEDUP_TRESHOLD" not in _valid_env("deduplicator")
    assert "RASD_DEDUP_THRESHOLD" not in _valid_env("normalizer")
    assert "RASD_TOPIC_RAW" in _valid_env("normalizer")


@pytest.mark.parametrize("name", SERVICES)
def test_compose_environment_builds_valid_settings(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the compose defaults, each service's settings validate, listen for Prometheus on all
    interfaces at the standard port, talk to the internal listener, and any ``${VAR:-default}`` in
    the file agrees with the default in the code (two defaults that differ confuse everybody)."""
    import os

    for key in list(os.environ):
        if key.startswith("RASD_"):
            monkeypatch.delenv(key)
    env = _env(services[name])
    for key, value in env.items():
        monkeypatch.setenv(key, _resolve(value))
    cls = SETTINGS_BY_SERVICE[name]
    settings = cls()
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.metrics_host == "0.0.0.0"
    assert settings.topics == Topics()
    assert getattr(settings, f"{name}_metrics_port") == DEFAULT_METRICS_PORTS[name]

    for key, value in env.items():
        if not INTERPOLATION.match(value.strip()) or key.startswith("RASD_TOPIC_"):
            continue
        field = key.removeprefix("RASD_").lower()
        assert field in cls.model_fields, key
        assert getattr(settings, field) == cls.model_fields[field].default, (
            f"{name}: {key} defaults to {_resolve(value)!r} in compose but "
            f"{cls.model_fields[field].default!r} in {cls.__name__}"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_metrics_port_env_matches_defaults(services: dict[str, dict[str, Any]], name: str) -> None:
    """Prometheus scrapes the standard ports; each service sets exactly its own port variable."""
    env = _env(services[name])
    port_vars = {k: v for k, v in env.items() if k.endswith("_METRICS_PORT")}
    assert port_vars == {f"RASD_{name.upper()}_METRICS_PORT": str(DEFAULT_METRICS_PORTS[name])}


def test_kafka_init_creates_every_topic(services: dict[str, dict[str, Any]]) -> None:
    """The topics kafka-init creates are exactly the ones the services use (``Topics()`` defaults),
    with --if-not-exists so restarting the stack is harmless, and RASD_PARTITIONS partitions."""
    init = services["kafka-init"]
    env = _env(init)
    script = " ".join(str(p) for p in [init.get("entrypoint") or "", *(_command(init))])
    assert "/opt/kafka/bin/kafka-topics.sh" in script
    assert "--create" in script and "--if-not-exists" in script
    referenced = re.findall(r"\$\$\{?(RASD_TOPIC_[A-Z_]+)", script)
    assert referenced, "kafka-init must create the topics named by the RASD_TOPIC_* variables"
    created = [_resolve(env[name]) for name in referenced]
    assert sorted(created) == sorted(Topics().all())
    assert len(created) == len(set(created)), "a topic is created twice"

    assert re.search(r"--partitions\s+\"?\$\$\{?RASD_PARTITIONS", script), "partitions must come from RASD_PARTITIONS"
    assert _resolve(env["RASD_PARTITIONS"]) == str(CommonSettings.model_fields["partitions"].default)
    assert init.get("image") == services["kafka"].get("image"), "kafka-init should reuse the broker image"


def test_kafka_image_is_the_pinned_version(services: dict[str, dict[str, Any]]) -> None:
    """The compose broker and the embedded local broker (``rasd run``) must be the same Kafka."""
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_kafka_is_a_single_kraft_node(services: dict[str, dict[str, Any]]) -> None:
    """One broker+controller: no ZooKeeper, replication factor 1 everywhere (else internal topics
    such as __consumer_offsets can never be created), an internal listener for the containers,
    a loopback listener for the host, and a health check the init job can wait for."""
    kafka = services["kafka"]
    env = _env(kafka)
    assert env["KAFKA_PROCESS_ROLES"].replace(" ", "") in {"broker,controller", "controller,broker"}
    assert env["KAFKA_NODE_ID"] == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert "KAFKA_CONTROLLER_LISTENER_NAMES" in env
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    assert "://kafka:9092" in advertised
    assert "://127.0.0.1:9094" in advertised or "://localhost:9094" in advertised
    for key, value in env.items():
        if key.endswith("REPLICATION_FACTOR") or key.endswith("MIN_ISR"):
            assert value == "1", f"{key}={value} on a single node"
    assert "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR" in env
    assert "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR" in env
    assert [spec for _, spec in _published_ports(kafka)] == ["127.0.0.1:9094:9094"]
    health = kafka.get("healthcheck", {}).get("test")
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in " ".join(health if isinstance(health, list) else [health])


# --------------------------------------------------------------------------- compose: network exposure


def test_no_port_is_published_on_all_interfaces(services: dict[str, dict[str, Any]]) -> None:
    """Kafka here has no authentication and the metrics are unauthenticated: anything published
    must be bound to loopback explicitly (``127.0.0.1:H:C``), never to 0.0.0.0 by default."""
    offending = [
        f"{name}: {spec}"
        for name, svc in services.items()
        for host, spec in _published_ports(svc)
        if host not in LOOPBACK
    ]
    assert not offending, "ports published beyond loopback: " + ", ".join(offending)


@pytest.mark.parametrize("name", SERVICES)
def test_scalable_services_publish_no_host_port(services: dict[str, dict[str, Any]], name: str) -> None:
    """``docker compose up --scale deduplicator=2`` fails if replicas fight for one host port or
    one container name; Prometheus reaches them on the compose network instead."""
    svc = services[name]
    assert not svc.get("ports"), f"{name} publishes host ports"
    assert "container_name" not in svc, f"{name} has a fixed container_name"


def test_prometheus_is_local_only_and_uses_the_compose_config(services: dict[str, dict[str, Any]]) -> None:
    """The UI is for the user on this machine; the mounted config is the one checked below."""
    prom = services["prometheus"]
    assert str(prom["image"]).startswith("prom/prometheus")
    assert [spec for _, spec in _published_ports(prom)] == ["127.0.0.1:9090:9090"]
    mounts = [str(v) for v in prom.get("volumes") or []]
    assert any(m.startswith("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml") for m in mounts)


def test_deduplicator_state_on_a_named_volume(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    """The deduplicator's table state lives in RASD_DATA_DIR: a named volume keeps it across
    container re-creation, so restarts recover from local state instead of replaying changelogs."""
    dedup = services["deduplicator"]
    data_dir = _resolve(_env(dedup).get("RASD_DATA_DIR", "")) or _dockerfile_env(_stages()[-1])["RASD_DATA_DIR"]
    mounts = [str(v).split(":") for v in dedup.get("volumes") or []]
    named = {src for src, target, *_ in mounts if target == data_dir}
    assert named, f"no volume mounted at {data_dir}"
    assert named <= set(compose.get("volumes") or {}), "the volume must be a declared named volume"


# --------------------------------------------------------------------------- Prometheus


def _jobs(path: Path) -> dict[str, dict[str, Any]]:
    config = _load_yaml(path)
    assert config["global"]["scrape_interval"] == "5s", f"{path.name}: scrape_interval"
    return {job["job_name"]: job for job in config["scrape_configs"]}


@pytest.mark.parametrize("name", SERVICES)
def test_prometheus_compose_discovers_every_replica(name: str) -> None:
    """DNS A records of a compose service list all its replicas, so scaling needs no config change;
    the port must be the service's metrics port or the target stays down."""
    job = _jobs(PROMETHEUS_COMPOSE)[name]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == [name]
    assert sd["type"] == "A"
    assert sd["port"] == DEFAULT_METRICS_PORTS[name]
    assert "static_configs" not in job


@pytest.mark.parametrize("name", SERVICES)
def test_prometheus_local_targets(name: str) -> None:
    """``rasd run`` serves every worker's metrics on 127.0.0.1 at its default port."""
    job = _jobs(PROMETHEUS_LOCAL)[name]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"127.0.0.1:{DEFAULT_METRICS_PORTS[name]}"]


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_is_multi_stage() -> None:
    """Build tools and pip caches stay in the builder; the runtime stage is a clean slim image that
    receives the venv (so both stages must share the base: the venv points at its interpreter)."""
    stages = _stages()
    assert len(stages) >= 2, "expected a builder and a runtime stage"
    bases = [args.split()[0] for stage in stages for kw, args in stage if kw == "FROM"]
    assert bases[-1] == "python:3.11-slim"
    assert bases[0] == bases[-1]
    runtime = stages[-1]
    assert any(kw == "COPY" and "--from=" in args and "/opt/venv" in args for kw, args in runtime)
    builder_runs = " ".join(args for kw, args in stages[0] if kw == "RUN")
    assert "pyproject.toml" in builder_runs and "pip install" in builder_runs


def test_dockerfile_runs_as_non_root() -> None:
    """A compromised worker should not be root in its container (and volumes stay owned by 10001)."""
    runtime = _stages()[-1]
    users = [args for kw, args in runtime if kw == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":", 1)[0]
    assert user not in {"root", "0"}
    assert user in {"10001", "rasd"}
    runs = " ".join(args for kw, args in runtime if kw == "RUN")
    assert "--uid 10001" in runs
    assert re.search(r"chown\s+\S+\s+/var/lib/rasd", runs), "the data dir must belong to the service user"


def test_dockerfile_entrypoint_and_default_command() -> None:
    """``docker run rasd worker <service>`` must work: the entrypoint is the ``rasd`` console script."""
    runtime = _stages()[-1]
    entry = [json.loads(args) for kw, args in runtime if kw == "ENTRYPOINT"]
    assert entry and entry[-1][0] == "rasd", "ENTRYPOINT must be exec form running rasd"
    cmd = [json.loads(args) for kw, args in runtime if kw == "CMD"]
    assert cmd and cmd[-1][0] == "worker" and cmd[-1][1] in SERVICES


def test_dockerfile_env_and_exposed_ports() -> None:
    """In a container the metrics server must listen on all interfaces (the default, 127.0.0.1, is
    unreachable from Prometheus), state goes to /var/lib/rasd, and EXPOSE documents the real ports."""
    runtime = _stages()[-1]
    env = _dockerfile_env(runtime)
    assert env.get("RASD_METRICS_HOST") == "0.0.0.0"
    assert env.get("RASD_DATA_DIR") == "/var/lib/rasd"
    unknown = sorted(k for k in env if k.startswith("RASD_") and k not in _valid_env(None))
    assert not unknown, f"Dockerfile sets unknown settings: {unknown}"
    exposed = {int(p.split("/")[0]) for kw, args in runtime if kw == "EXPOSE" for p in args.split()}
    assert exposed == set(DEFAULT_METRICS_PORTS.values())


def test_dockerignore_keeps_local_state_out() -> None:
    """The virtualenv, caches and Faust state would bloat the context and could leak into the image."""
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    for required in (".venv", ".cache", "var", ".git"):
        assert required in entries, f".dockerignore lacks {required}"
    assert any("__pycache__" in e for e in entries)
