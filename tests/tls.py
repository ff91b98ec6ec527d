"""Throw-away TLS material for the tests, made with ``openssl`` at test time (nothing secret is committed).

One CA signs a broker certificate (subjectAltName ``IP:127.0.0.1`` only — so ``localhost`` does *not* match,
which the host-name check tests use) and a client certificate; the broker's key and chain also go into a
PKCS12 keystore for Kafka.  A second, unrelated CA is there to be distrusted.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

KEYSTORE_PASSWORD = "keystore-pass"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # PEM: the CA that signed both certificates
    other_ca: Path  # PEM: a CA that signed neither
    keystore: Path  # PKCS12: the broker's key and certificate chain (KEYSTORE_PASSWORD)
    client_cert: Path  # PEM
    client_key: Path  # PEM, unencrypted


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr.strip()}")


def _ca(name: str, cwd: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-days", "2", "-subj", f"/CN=rasd test {name}", cwd=cwd)


def _signed(name: str, subject: str, extensions: str, cwd: Path) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", subject, cwd=cwd)
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=cwd)


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate the CA, the broker's keystore and a client certificate in ``directory`` (skips without openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    _ca("ca", directory)
    _ca("other-ca", directory)
    _signed("broker", "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
            directory)
    _signed("client", "/CN=rasd-client",
            "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n", directory)
    _openssl("pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
             "-name", "broker", "-out", "broker.p12", "-passout", f"pass:{KEYSTORE_PASSWORD}", cwd=directory)
    return TlsFiles(
        ca=directory / "ca.pem",
        other_ca=directory / "other-ca.pem",
        keystore=directory / "broker.p12",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
