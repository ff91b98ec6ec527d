"""Kafka with SASL and TLS, end to end: a local broker with a SASL_SSL listener (PLAIN and SCRAM-SHA-512 users) and
an SSL listener that requires client certificates, certificates made here with openssl (tests/tls.py).

Through the same code paths as production, configured only by ``RASD_KAFKA_*``: ``rasd publish`` and
``rasd alerts`` (subprocesses), the normalizer and the webhook sink as ``rasd worker`` processes (Faust's
consumer, producer and topic creation), topic creation by the admin client.  A wrong password, an untrusted
CA, a host name the certificate does not name, a listener without the client certificate it wants: each is one
line on stderr with exit code 2, no traceback, no password.

Why: most managed and production clusters require SASL over TLS; a client that cannot speak it cannot be
deployed there, and one that answers a typo in a password with a traceback (or prints the password) is a
support call.  The broker is this module's own (the session's broker stays PLAINTEXT).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from rasd.kafka_io import Follower, publish
from rasd.kafka_local import BrokerSecurity, LocalKafka, create_topics
from rasd.runner import Workers
from schemas.codec import decode, encode
from schemas.models import Alert
from services.common.security import KafkaSecuritySettings
from services.webhook.core import TIMESTAMP_HEADER, verify
from tests.tls import KEYSTORE_PASSWORD, TlsFiles, make_tls_files

from .helpers import free_port, isolated_env

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
USERS = {"rasd-scram": "scram-pass-7f3a9c", "rasd-plain": "plain-pass-41d2e8"}
WRONG = "not-the-password-5b7e"
SECRET = "webhook-secret-9d1c"


class Broker:
    def __init__(self, kafka: LocalKafka, tls: TlsFiles) -> None:
        self.kafka, self.tls = kafka, tls

    def env(self, user: str = "rasd-scram", mechanism: str = "SCRAM-SHA-512", password: str | None = None,
            **extra: str) -> dict[str, str]:
        """The ``RASD_KAFKA_*`` of a client of the SASL_SSL listener."""
        return {
            "RASD_BOOTSTRAP_SERVERS": self.kafka.sasl_ssl_bootstrap_servers,
            "RASD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "RASD_KAFKA_SASL_MECHANISM": mechanism,
            "RASD_KAFKA_SASL_USERNAME": user,
            "RASD_KAFKA_SASL_PASSWORD": USERS[user] if password is None else password,
            "RASD_KAFKA_SSL_CAFILE": str(self.tls.ca),
        } | extra


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    tls = make_tls_files(tmp_path_factory.mktemp("tls"))
    security = BrokerSecurity(keystore=tls.keystore, keystore_password=KEYSTORE_PASSWORD, users=USERS,
                              client_ca=tls.ca)
    with LocalKafka(log_file=tmp_path_factory.mktemp("kafka-log") / "broker.log", security=security) as kafka:
        yield Broker(kafka, tls)


@pytest.fixture(autouse=True)
def no_ambient_security(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests pass their settings explicitly (or in a subprocess's env), never through this process's env."""
    for key in list(os.environ):
        if key.startswith(("RASD_KAFKA_", "RASD_BOOTSTRAP", "RASD_WEBHOOK_")):
            monkeypatch.delenv(key)


def security(env: dict[str, str]) -> KafkaSecuritySettings:
    return KafkaSecuritySettings(**{k.removeprefix("RASD_").lower(): v for k, v in env.items()
                                    if k.startswith("RASD_KAFKA_")})  # type: ignore[arg-type]


def rasd(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rasd", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


async def read(bootstrap: str, topic: str, sec: KafkaSecuritySettings, want: int, timeout: float = 60) -> list[str]:
    """Keys of the first ``want`` records of ``topic``, read through the CLI's consumer (kafka_io.Follower)."""
    keys: list[str] = []
    deadline = time.monotonic() + timeout
    async with Follower(bootstrap, [topic], security=sec) as follower:
        while len(keys) < want:
            assert time.monotonic() < deadline, f"only {len(keys)} of {want} records on {topic}"
            keys += [r.key or "" for r in await follower.poll()]
    return keys


def test_pipeline_stage_webhook_and_cli_over_sasl_ssl_scram(broker: Broker, tmp_path: Path) -> None:
    """SCRAM-SHA-512 over TLS: topics created, articles published by ``rasd publish``, normalized by a worker,
    an alert delivered (signed) by the webhook sink and printed by ``rasd alerts``; no password in any log."""
    env, topics = isolated_env(tmp_path / "data")
    env |= broker.env()
    bootstrap, sec = env["RASD_BOOTSTRAP_SERVERS"], security(env)
    asyncio.run(create_topics(bootstrap, topics.all(), partitions=2, security=sec))
    receiver = Receiver()
    env |= {"RASD_WEBHOOK_URLS": receiver.url, "RASD_WEBHOOK_SECRET": SECRET}
    workers = Workers(bootstrap, log_dir=tmp_path / "logs", services=("normalizer", "webhook"),
                      ports={"normalizer": free_port(), "webhook": free_port()}, extra_env=env)
    try:
        workers.start()
        workers.wait_ready()
        published = rasd(env, "publish", str(SEEDS))
        assert published.returncode == 0, published.stderr
        seeds = len(list(SEEDS.glob("*.txt")))
        assert f"published {seeds} article(s)" in published.stdout
        assert len(asyncio.run(read(bootstrap, topics.normalized, sec, seeds))) == seeds

        alert = Alert(alert_id="alert-sasl", article_id="a-sasl", story_id="s-sasl", severity="high", score=9.0,
                      matches=[], entities=[], title="t", snippet="s", language="ar", detected_at=time.time())
        asyncio.run(publish(bootstrap, topics.alerts, [encode(alert)], security=sec))
        shown = rasd(env, "alerts", "--json", "--limit", "1", "--group", "sasl-desk")
        assert shown.returncode == 0, shown.stderr
        assert orjson.loads(shown.stdout)["alert_id"] == "alert-sasl"

        deadline = time.monotonic() + 60
        while not receiver.received:
            assert time.monotonic() < deadline, Workers.tail(workers.procs[1])
            time.sleep(0.2)
        [(headers, body)] = receiver.received
        assert decode(body, Alert) == alert
        assert verify(SECRET, headers, body, now=float(headers[TIMESTAMP_HEADER]))
    finally:
        workers.stop()
        receiver.shutdown()
    for proc in workers.procs:
        log = proc.log_path.read_text(errors="replace")
        assert USERS["rasd-scram"] not in log and SECRET not in log, proc.service
    assert USERS["rasd-scram"] not in published.stdout + published.stderr + shown.stderr


async def test_plain_login_and_client_certificates(broker: Broker, tmp_path: Path) -> None:
    """PLAIN (the broker's JAAS users) on the SASL_SSL listener; SSL with a client certificate on the mTLS one."""
    _, topics = isolated_env(tmp_path)
    plain = security(broker.env("rasd-plain", "PLAIN"))
    bootstrap = broker.kafka.sasl_ssl_bootstrap_servers
    await create_topics(bootstrap, [topics.raw], partitions=1, security=plain)
    keys = await publish(bootstrap, topics.raw, [b'{"id": "p1", "body": "over PLAIN"}'], security=plain)
    assert await read(bootstrap, topics.raw, plain, 1) == keys

    mtls = KafkaSecuritySettings(kafka_security_protocol="SSL", kafka_ssl_cafile=broker.tls.ca,
                                 kafka_ssl_certfile=broker.tls.client_cert, kafka_ssl_keyfile=broker.tls.client_key)
    bootstrap = broker.kafka.ssl_bootstrap_servers
    keys += await publish(bootstrap, topics.raw, [b'{"id": "c1", "body": "with a client certificate"}'],
                          security=mtls)
    assert await read(bootstrap, topics.raw, mtls, 2) == keys


def one_line(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The command failed with exit code 2 and said why on one line, with none of the secrets."""
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(fragment in err for fragment in fragments), err
    assert not any(secret in err + proc.stdout for secret in (WRONG, *USERS.values())), err
    return err


def test_refusals_are_one_clear_line(broker: Broker, tmp_path: Path) -> None:
    """Wrong password (SCRAM and PLAIN, CLI and worker), untrusted CA, host name mismatch, missing client cert."""
    env, _ = isolated_env(tmp_path)
    article = tmp_path / "a.json"
    article.write_text('{"id": "x", "body": "never sent"}')
    port = broker.kafka.sasl_ssl_port

    one_line(rasd(env | broker.env(password=WRONG), "publish", str(article)),
             f"rasd publish: Kafka at 127.0.0.1:{port} refused the SASL login of user 'rasd-scram' (SCRAM-SHA-512)",
             "check RASD_KAFKA_SASL_USERNAME, RASD_KAFKA_SASL_PASSWORD")
    one_line(rasd(env | broker.env("rasd-plain", "PLAIN", password=WRONG), "alerts"),
             "rasd alerts: ", "refused the SASL login of user 'rasd-plain' (PLAIN)")
    one_line(rasd(env | broker.env(password=WRONG), "worker", "normalizer", "--metrics-port", str(free_port())),
             "rasd worker: ", "refused the SASL login of user 'rasd-scram'")
    one_line(rasd(env | broker.env(RASD_KAFKA_SSL_CAFILE=str(broker.tls.other_ca)), "publish", str(article)),
             "TLS certificate not trusted", "RASD_KAFKA_SSL_CAFILE")

    # The certificate names 127.0.0.1 only: "localhost" fails the host-name check unless it is turned off.
    localhost = {"RASD_BOOTSTRAP_SERVERS": f"localhost:{port}"}
    one_line(rasd(env | broker.env(**localhost), "publish", str(article)),
             "Hostname mismatch", "RASD_KAFKA_SSL_CHECK_HOSTNAME")
    unchecked = rasd(env | broker.env(**localhost, RASD_KAFKA_SSL_CHECK_HOSTNAME="false"), "publish", str(article))
    assert unchecked.returncode == 0, unchecked.stderr

    no_cert = {"RASD_BOOTSTRAP_SERVERS": broker.kafka.ssl_bootstrap_servers, "RASD_KAFKA_SECURITY_PROTOCOL": "SSL",
               "RASD_KAFKA_SSL_CAFILE": str(broker.tls.ca)}
    one_line(rasd(env | no_cert, "publish", str(article)), "RASD_KAFKA_SSL_CERTFILE")
    plaintext = {"RASD_BOOTSTRAP_SERVERS": broker.kafka.sasl_ssl_bootstrap_servers}
    one_line(rasd(env | plaintext, "publish", str(article)), "does this listener speak PLAINTEXT?")
