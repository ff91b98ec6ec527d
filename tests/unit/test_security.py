"""Kafka client security settings (SASL, TLS), the webhook sink's refusal to send unsigned, URL redaction.

Why: a client that silently falls back to PLAINTEXT, prints its password, or dies with a 40-line traceback
when the password is wrong is worse than none; a webhook sink that signs nothing because a variable was
forgotten, or writes a URL's token into its dead letters, leaks.  The end-to-end run against a SASL_SSL
broker is tests/integration/test_kafka_security.py; here are the rules, without a broker.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError

from rasd.cli import main
from services.common.security import (
    ConfigError,
    KafkaAccessError,
    KafkaSecuritySettings,
    check_access,
    faust_credentials,
    kafka_auth,
    redact_text,
    redact_url,
    require_webhook_secret,
    settings_error_line,
)
from services.common.settings import SETTINGS_BY_SERVICE, CommonSettings, WebhookSettings
from services.webhook.agent import build
from services.webhook.core import WebhookConfigError, failure_text, parse_urls
from tests.tls import TlsFiles, make_tls_files

PASSWORD = "pa55-w0rd-never-shown"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RASD_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def sasl_ssl(tls: TlsFiles, **extra: object) -> KafkaSecuritySettings:
    values: dict[str, object] = {
        "kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "rasd", "kafka_sasl_password": PASSWORD, "kafka_ssl_cafile": tls.ca,
    }
    return KafkaSecuritySettings(**(values | extra))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ settings → options


def test_default_is_plaintext_without_credentials() -> None:
    settings = CommonSettings()
    assert kafka_auth(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_environment_gives_every_service_and_the_cli_the_same_options(
    tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lower case is accepted; the CLI (``kafka_auth()`` reads the environment) and each service agree."""
    env = {"RASD_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "RASD_KAFKA_SASL_MECHANISM": "scram-sha-512",
           "RASD_KAFKA_SASL_USERNAME": "rasd", "RASD_KAFKA_SASL_PASSWORD": PASSWORD,
           "RASD_KAFKA_SSL_CAFILE": str(tls.ca), "RASD_KAFKA_SSL_CERTFILE": str(tls.client_cert),
           "RASD_KAFKA_SSL_KEYFILE": str(tls.client_key), "RASD_WEBHOOK_SECRET": "s"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for options in [kafka_auth(), *(kafka_auth(cls()) for cls in SETTINGS_BY_SERVICE.values())]:
        context = options.pop("ssl_context")
        assert options == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                           "sasl_plain_username": "rasd", "sasl_plain_password": PASSWORD}
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.get_ca_certs()[0]["subject"] == ((("commonName", "rasd test ca"),),)


def test_check_hostname_can_be_turned_off_but_not_verification(tls: TlsFiles) -> None:
    context = kafka_auth(KafkaSecuritySettings(kafka_security_protocol="SSL", kafka_ssl_cafile=tls.ca,
                                               kafka_ssl_check_hostname=False))["ssl_context"]
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_faust_gets_exactly_the_cli_options(tls: TlsFiles, protocol: str, mechanism: str) -> None:
    """The workers' credentials, as Faust turns them into aiokafka options, are :func:`kafka_auth`'s."""
    values: dict[str, object] = {"kafka_security_protocol": protocol}
    if "SASL" in protocol:
        values |= {"kafka_sasl_mechanism": mechanism, "kafka_sasl_username": "u", "kafka_sasl_password": PASSWORD}
    if "SSL" in protocol:
        values |= {"kafka_ssl_cafile": tls.ca}
    settings = KafkaSecuritySettings(**values)  # type: ignore[arg-type]
    ours, faust = kafka_auth(settings), dict(credentials_to_aiokafka_auth(faust_credentials(settings)))
    assert isinstance(ours.pop("ssl_context", None), ssl.SSLContext) == ("SSL" in protocol)
    assert isinstance(faust.pop("ssl_context", None), ssl.SSLContext) == ("SSL" in protocol)
    assert faust == ours


def test_the_password_is_never_shown(tls: TlsFiles) -> None:
    settings = sasl_ssl(tls)
    shown = [repr(settings), str(settings), settings.describe(), settings.model_dump_json(),
             repr(faust_credentials(settings)), repr(WebhookSettings(webhook_secret=SecretStr(PASSWORD)))]
    assert all(PASSWORD not in text for text in shown)
    assert settings.describe() == f"SASL_SSL SCRAM-SHA-512 as 'rasd', CA {tls.ca}"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"kafka_security_protocol": "SASL_SSL"},
         "SASL_SSL needs RASD_KAFKA_SASL_USERNAME and RASD_KAFKA_SASL_PASSWORD"),
        ({"kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "PLAINTEXT does not use SASL"),
        ({"kafka_ssl_cafile": "CA"}, "PLAINTEXT does not use TLS: set SSL or SASL_SSL, or unset RASD_KAFKA_SSL_CAFILE"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "CA"}, "RASD_KAFKA_SSL_KEYFILE is set without"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nowhere/ca.pem"},
         "RASD_KAFKA_SSL_CAFILE: no such file /nowhere/ca.pem"),
        ({"kafka_security_protocol": "TLS"}, "RASD_KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT'"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI", "kafka_sasl_username": "u",
          "kafka_sasl_password": "p"}, "RASD_KAFKA_SASL_MECHANISM: Input should be 'PLAIN'"),
    ],
)
def test_inconsistent_settings_are_refused_in_one_line(tls: TlsFiles, values: dict[str, str], expected: str) -> None:
    """Never a silent fall-back to the clear: a CA file with PLAINTEXT is a mistake, not a preference."""
    values = {k: str(tls.ca) if v == "CA" else v for k, v in values.items()}
    with pytest.raises(ValidationError) as info:
        KafkaSecuritySettings(**values)  # type: ignore[arg-type]
    line = settings_error_line(info.value)
    assert expected in line and "\n" not in line


def test_cli_prints_a_bad_setting_in_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("RASD_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("RASD_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    (tmp_path / "a.json").write_text('{"body": "x"}')
    assert main(["publish", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert err == ("rasd publish: invalid settings: RASD_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs "
                   "RASD_KAFKA_SASL_USERNAME and RASD_KAFKA_SASL_PASSWORD\n")


def test_rasd_run_will_not_start_a_plaintext_broker_for_secured_clients(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in {"RASD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "RASD_KAFKA_SASL_USERNAME": "u",
                       "RASD_KAFKA_SASL_PASSWORD": PASSWORD}.items():
        monkeypatch.setenv(key, value)
    assert main(["run", "--once", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the embedded broker speaks PLAINTEXT" in err and PASSWORD not in err


async def test_an_unreachable_broker_is_one_line_with_exit_code_3() -> None:
    with pytest.raises(KafkaAccessError) as info:
        await check_access("127.0.0.1:1", {"security_protocol": "PLAINTEXT"}, timeout=2)
    assert info.value.code == 3 and str(info.value).startswith("cannot reach Kafka at 127.0.0.1:1: ")
    await check_access("127.0.0.1:1", {"security_protocol": "PLAINTEXT"}, timeout=2, unreachable_ok=True)
    with pytest.raises(KafkaAccessError, match="is not host:port"):
        await check_access("kafka", {"security_protocol": "PLAINTEXT"})


async def test_a_tls_client_on_a_plaintext_port_is_told_to_check_the_protocol() -> None:
    """A listener that is not TLS drops the handshake: said as such (exit code 2), not as "unreachable"."""

    async def plaintext_listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(plaintext_listener, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(KafkaAccessError) as info:
            await check_access(f"127.0.0.1:{port}", {"security_protocol": "SSL",
                                                     "ssl_context": ssl.create_default_context()}, timeout=5)
    finally:
        server.close()
    assert info.value.code == 2
    assert "does this listener speak SSL? Check RASD_KAFKA_SECURITY_PROTOCOL" in str(info.value)


# --------------------------------------------------------------------------------------------- webhook sink


def test_webhook_sink_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    """Refused when the settings are read, and (settings made without validation) when the sink is built."""
    with pytest.raises(ConfigError, match="RASD_WEBHOOK_SECRET is empty"):
        require_webhook_secret("", allow_unsigned=False)
    require_webhook_secret("", allow_unsigned=True)
    require_webhook_secret("s3cret", allow_unsigned=False)
    values = {"bootstrap_servers": "127.0.0.1:1", "webhook_urls": "http://127.0.0.1:1/hook", "data_dir": tmp_path}
    with pytest.raises(ValidationError) as info:
        WebhookSettings(**values)  # type: ignore[arg-type]
    assert settings_error_line(info.value).startswith("invalid settings: RASD_WEBHOOK_SECRET is empty, so receivers")
    assert WebhookSettings(**values, webhook_allow_unsigned=True).webhook_allow_unsigned  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="RASD_WEBHOOK_ALLOW_UNSIGNED=true"):
        build(WebhookSettings.model_construct(**values), CollectorRegistry())  # type: ignore[arg-type]


def test_rasd_worker_webhook_without_a_secret_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """At once, before waiting for any broker."""
    monkeypatch.setenv("RASD_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("RASD_WEBHOOK_URLS", "https://user:pw@hooks.example.com/in?token=abc")
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path))
    assert main(["worker", "webhook"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rasd worker: invalid settings: RASD_WEBHOOK_SECRET is empty") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:token@hooks.example.com/in?key=abc#frag", "https://hooks.example.com/in"),
        ("http://127.0.0.1:8080/hook?sig=x", "http://127.0.0.1:8080/hook"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("http://[::1]:9000/a?b", "http://[::1]:9000/a"),
        ("http://host:notaport/x", "<unparseable URL>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_dead_letter_errors_and_config_errors_carry_no_url_secret() -> None:
    """aiohttp quotes the full URL in some errors (ClientResponseError, InvalidURL): those are redacted too."""
    url = "https://alice:hunter2@hooks.example.com/in?token=abc"
    error = f"ClientResponseError: 500, message='boom', url='{url}'"
    text = failure_text(url, error, 5)
    assert text == ("https://hooks.example.com/in: ClientResponseError: 500, message='boom', "
                    "url='https://hooks.example.com/in' after 5 attempt(s)")
    assert redact_text("see http://u:p@h/x?q=1 and https://h2/y#z") == "see http://h/x and https://h2/y"
    with pytest.raises(WebhookConfigError) as info:
        parse_urls("ftp://alice:hunter2@files.example.com/drop?token=abc")
    assert "hunter2" not in str(info.value) and "abc" not in str(info.value)
