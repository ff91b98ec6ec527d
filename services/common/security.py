"""Kafka client security (SASL and TLS) from the environment, and redaction of secrets from what Rasd writes.

Every Kafka client of Rasd — the Faust workers (consumer, producer, the topic creation they do), the CLI's
aiokafka producer and consumers, the admin client that creates topics — takes its security from the same
``RASD_KAFKA_*`` variables, through one function, :func:`kafka_auth`.  Faust gets the same settings as
``broker_credentials`` (:func:`faust_credentials`, which wraps :func:`kafka_auth`'s result).

=================================  ============  ===========================================================
variable                           default       meaning
=================================  ============  ===========================================================
``RASD_KAFKA_SECURITY_PROTOCOL``   ``PLAINTEXT`` ``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``
``RASD_KAFKA_SASL_MECHANISM``      ``PLAIN``     ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512`` (SASL only)
``RASD_KAFKA_SASL_USERNAME``       —             required with SASL
``RASD_KAFKA_SASL_PASSWORD``       —             required with SASL; a secret, never logged or printed
``RASD_KAFKA_SSL_CAFILE``          —             PEM CA bundle the broker's certificate must chain to
                                                 (empty: the system's trusted CAs)
``RASD_KAFKA_SSL_CERTFILE``        —             client certificate (PEM), for brokers that require one
``RASD_KAFKA_SSL_KEYFILE``         —             its private key (PEM; empty: in the certificate file)
``RASD_KAFKA_SSL_KEY_PASSWORD``    —             the key's passphrase, if it is encrypted (a secret)
``RASD_KAFKA_SSL_CHECK_HOSTNAME``  ``true``      the broker's certificate must name the host connected to
=================================  ============  ===========================================================

Inconsistent combinations are refused when the settings are read (SASL without a username, a CA file with
``PLAINTEXT``…) rather than silently connecting in the clear.  :func:`check_access` opens one connection the
way the clients will and turns a refusal into one line that says what to fix (:class:`KafkaAccessError`).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


class StartupError(RuntimeError):
    """A problem the operator fixes before a command can run: the CLI prints its message as one line and exits
    with ``code`` (2: configuration, as argparse; 3: Kafka cannot be reached)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class KafkaAccessError(StartupError):
    """Kafka could not be reached (code 3) or refused the client — its TLS or its login (code 2)."""


class ConfigError(StartupError, ValueError):
    """A setting that cannot work (a ValueError too, so a settings validator reports it as a validation error)."""


def require_webhook_secret(secret: str, *, allow_unsigned: bool) -> None:
    """No webhook signing secret and no explicit permission to send unsigned requests: refuse to start.

    Unsigned requests let anyone who learns a receiver's URL post fake alerts to it; a sink that sent them
    because a variable was forgotten would say nothing about it.
    """
    if not secret and not allow_unsigned:
        raise ConfigError(
            "RASD_WEBHOOK_SECRET is empty, so receivers could not verify the alerts: set it (a long random "
            "string shared with them), or set RASD_WEBHOOK_ALLOW_UNSIGNED=true to send unsigned requests"
        )


class KafkaSecuritySettings(BaseSettings):
    """The ``RASD_KAFKA_*`` security settings (every service's settings include them)."""

    model_config = SettingsConfigDict(env_prefix="RASD_", frozen=True, extra="ignore")

    kafka_security_protocol: Protocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: Mechanism = Field(default="PLAIN", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    kafka_sasl_username: str = Field(default="", description="SASL user")
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), description="SASL password (never logged)")
    kafka_ssl_cafile: Path | None = Field(default=None, description="PEM CA bundle (empty: the system's CAs)")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate (PEM)")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client private key (PEM)")
    kafka_ssl_key_password: SecretStr = Field(default=SecretStr(""), description="Passphrase of the client key")
    kafka_ssl_check_hostname: bool = Field(default=True, description="Check the broker certificate's host name")

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        protocol = self.kafka_security_protocol
        sasl, tls = protocol in SASL_PROTOCOLS, protocol in TLS_PROTOCOLS
        given = f"RASD_KAFKA_SECURITY_PROTOCOL={protocol}"
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"{given} needs RASD_KAFKA_SASL_USERNAME and RASD_KAFKA_SASL_PASSWORD")
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"{given} does not use SASL: set SASL_PLAINTEXT or SASL_SSL, or unset "
                             "RASD_KAFKA_SASL_USERNAME/RASD_KAFKA_SASL_PASSWORD")
        files = {"RASD_KAFKA_SSL_CAFILE": self.kafka_ssl_cafile, "RASD_KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
                 "RASD_KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile}
        if not tls and any(files.values()):
            named = ", ".join(name for name, path in files.items() if path)
            raise ValueError(f"{given} does not use TLS: set SSL or SASL_SSL, or unset {named}")
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("RASD_KAFKA_SSL_KEYFILE is set without RASD_KAFKA_SSL_CERTFILE")
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file {path}")
        return self

    def describe(self) -> str:
        """What the clients will do, for logs: never the password."""
        text: str = self.kafka_security_protocol
        if self.kafka_security_protocol in SASL_PROTOCOLS:
            text += f" {self.kafka_sasl_mechanism} as {self.kafka_sasl_username!r}"
        if self.kafka_security_protocol in TLS_PROTOCOLS:
            text += f", CA {self.kafka_ssl_cafile or 'system'}"
            text += ", client certificate" if self.kafka_ssl_certfile else ""
            text += "" if self.kafka_ssl_check_hostname else ", host name NOT checked"
        return text


def ssl_context(settings: KafkaSecuritySettings) -> ssl.SSLContext:
    """The client TLS context: the CA file (or the system's CAs), a client certificate if given."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile is not None:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            settings.kafka_ssl_key_password.get_secret_value() or None,
        )
    return context


def kafka_auth(settings: KafkaSecuritySettings | None = None) -> dict[str, Any]:
    """aiokafka's security keyword arguments (for producers, consumers, admin clients) from the settings.

    ``None`` reads the ``RASD_KAFKA_*`` variables.  The one place the settings become client options: Faust's
    credentials (:func:`faust_credentials`) are built from this result.
    """
    settings = KafkaSecuritySettings() if settings is None else settings
    protocol = settings.kafka_security_protocol
    auth: dict[str, Any] = {"security_protocol": protocol}
    if protocol in TLS_PROTOCOLS:
        auth["ssl_context"] = ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        auth["sasl_mechanism"] = settings.kafka_sasl_mechanism
        auth["sasl_plain_username"] = settings.kafka_sasl_username
        auth["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return auth


def faust_credentials(settings: KafkaSecuritySettings) -> Any:
    """Faust's ``broker_credentials`` for the same settings (``None`` for PLAINTEXT).

    Faust turns them back into aiokafka options for its consumer, producer and topic creation
    (``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``); a unit test checks that the round trip
    gives exactly :func:`kafka_auth`'s options.
    """
    from faust.auth import SASLCredentials, SSLCredentials

    auth = kafka_auth(settings)
    if "sasl_mechanism" in auth:
        return SASLCredentials(
            username=auth["sasl_plain_username"],
            password=auth["sasl_plain_password"],
            ssl_context=auth.get("ssl_context"),
            mechanism=auth["sasl_mechanism"],
        )
    if "ssl_context" in auth:
        return SSLCredentials(auth["ssl_context"])
    return None


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for server in (s.strip() for s in bootstrap.split(",")):
        if not server:
            continue
        host, sep, port = server.rpartition(":")
        if not sep or not port.isdigit():
            raise KafkaAccessError(f"bootstrap server {server!r} is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    if not hosts:
        raise KafkaAccessError("no Kafka bootstrap servers configured (RASD_BOOTSTRAP_SERVERS)")
    return hosts


def _explain(host: str, port: int, auth: Mapping[str, Any], exc: BaseException, timeout: float) -> str:
    """One line on why a connection failed, naming the settings to look at (never the password)."""
    from aiokafka import errors

    where = f"Kafka at {host}:{port}"
    protocol = auth.get("security_protocol", "PLAINTEXT")
    detail = re.sub(r"^\[Error \d+\] \w+: ", "", " ".join(str(exc).split())) or type(exc).__name__
    login_failed = errors.SaslAuthenticationFailed | errors.AuthenticationFailedError | errors.IllegalSaslStateError
    if isinstance(exc, login_failed):
        user = auth.get("sasl_plain_username")
        return (f"{where} refused the SASL login of user {user!r} ({auth.get('sasl_mechanism')}): {detail} "
                "— check RASD_KAFKA_SASL_USERNAME, RASD_KAFKA_SASL_PASSWORD and RASD_KAFKA_SASL_MECHANISM")
    if isinstance(exc, errors.UnsupportedSaslMechanismError):
        return f"{where}: {detail} — set RASD_KAFKA_SASL_MECHANISM to one of them"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{where}: TLS certificate not trusted: {exc.verify_message or detail} "
                "— check RASD_KAFKA_SSL_CAFILE and RASD_KAFKA_SSL_CHECK_HOSTNAME")
    if isinstance(exc, ssl.SSLError):
        return (f"{where}: TLS handshake failed ({detail}) — does this listener speak {protocol}? "
                "Check RASD_KAFKA_SECURITY_PROTOCOL, and RASD_KAFKA_SSL_CERTFILE if it requires a client certificate")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return (f"{where} did not answer within {timeout:g} s — is it up, and does this listener speak {protocol} "
                "(RASD_KAFKA_SECURITY_PROTOCOL)?")
    if isinstance(exc, errors.KafkaConnectionError | ConnectionResetError | ConnectionAbortedError):
        certificate = " and whether it requires a client certificate (RASD_KAFKA_SSL_CERTFILE)"
        return (f"{where} closed the connection during the handshake — does this listener speak {protocol}? "
                f"Check RASD_KAFKA_SECURITY_PROTOCOL{certificate if protocol in TLS_PROTOCOLS else ''}")
    if isinstance(exc, OSError):
        return f"cannot reach {where}: {detail} (RASD_BOOTSTRAP_SERVERS)"
    return f"{where}: {type(exc).__name__}: {detail}"


async def check_access(
    bootstrap: str, auth: Mapping[str, Any] | None = None, *, timeout: float = 10.0, unreachable_ok: bool = False
) -> None:
    """Connect to the bootstrap servers as the clients will (TLS, SASL); raise :class:`KafkaAccessError` if none
    lets us in.

    aiokafka itself only logs why a bootstrap server failed and raises "Unable to bootstrap"; this says why —
    a refused login, an untrusted certificate, the wrong protocol for the listener — in one line.  With
    ``unreachable_ok`` only a refusal raises (a worker started before its broker keeps waiting for it).
    """
    from aiokafka.conn import create_conn

    auth = kafka_auth() if auth is None else auth
    reasons: list[tuple[int, str]] = []  # (0 refused by Kafka | 1 protocol mismatch | 2 not reached, why)
    for host, port in _hosts(bootstrap):
        try:
            conn = await asyncio.wait_for(
                create_conn(host, port, client_id="rasd-check", request_timeout_ms=int(timeout * 1000), **auth),
                timeout,
            )
        except Exception as exc:
            from aiokafka import errors

            if isinstance(exc, errors.KafkaConnectionError | ConnectionResetError | ConnectionAbortedError):
                rank = 1
            elif isinstance(exc, ssl.SSLError | errors.KafkaError):
                rank = 0
            else:
                rank = 2
            reasons.append((rank, _explain(host, port, auth, exc, timeout)))
            continue
        conn.close()
        return
    rank, why = min(reasons)  # the most telling reason: a refusal before an unreachable host
    if rank == 2 and unreachable_ok:
        return
    raise KafkaAccessError(why, code=3 if rank == 2 else 2)


def settings_error_line(exc: ValidationError) -> str:
    """A settings validation error as one line naming the variables (pydantic's own text spans lines)."""
    parts = []
    for error in exc.errors():
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        loc = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"RASD_{loc.upper()}: {message}" if loc else message)
    return "invalid settings: " + "; ".join(parts)


# --------------------------------------------------------------------------------------------------- redaction

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """``url`` without what may hold a secret: no user or password, no query, no fragment.

    ``https://user:token@hooks.example.com/in?key=abc`` → ``https://hooks.example.com/in``.  The path is kept
    (it says which endpoint); a secret in the path itself is not recognised.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`): error messages often quote the URL."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
