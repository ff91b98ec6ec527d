"""Functional core of the webhook sink: the request body, its signature, the retry schedule.

No I/O and no clock of its own (``now`` is passed in).  The contract with receivers:

* ``POST`` with ``Content-Type: application/json``; the body is the alert exactly as on the
  ``alerts`` topic (:class:`schemas.models.Alert` as JSON).
* ``X-Rasd-Timestamp: <unix seconds>`` and ``X-Rasd-Signature: sha256=<hex>``, the HMAC-SHA256
  with the shared secret of ``<timestamp>.<body>`` (the timestamp is signed too, so a captured
  request cannot be replayed later with a fresh timestamp).  Receivers recompute it over the
  exact bytes received, compare in constant time and reject stale timestamps (:func:`verify`).
* ``X-Rasd-Alert-Id``: the alert id, an idempotency key (a retried or replayed delivery repeats it).
* Any 2xx is delivered.  408, 429 and 5xx or no answer are retried with exponential backoff
  (:func:`backoff_schedule`); other 4xx are permanent.  What is not delivered in the end goes to
  the webhook dead-letter topic.

The sink refuses to start without a secret unless unsigned delivery is asked for
(``RASD_WEBHOOK_ALLOW_UNSIGNED=true``: :func:`services.common.security.require_webhook_secret`, checked when
the settings are read and again when the sink is built), and a URL it writes anywhere — a log line, a
dead letter's error — has no user, password, query or fragment (:func:`services.common.security.redact_url`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from services.common.security import ConfigError, redact_text, redact_url

SIGNATURE_HEADER = "X-Rasd-Signature"
TIMESTAMP_HEADER = "X-Rasd-Timestamp"
ALERT_ID_HEADER = "X-Rasd-Alert-Id"
DEFAULT_TOLERANCE = 300.0  # seconds a receiver should accept between signing and checking


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def request_headers(body: bytes, *, secret: str, alert_id: str, now: float) -> dict[str, str]:
    """The headers of one delivery attempt (signed at ``now``)."""
    timestamp = int(now)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        ALERT_ID_HEADER: alert_id,
        "User-Agent": "rasd-webhook/1",
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return headers


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float,
           tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """What a receiver does: recompute the signature over the exact body, check the timestamp's age."""
    try:
        timestamp = int(headers[TIMESTAMP_HEADER])
        given = headers[SIGNATURE_HEADER]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))


def backoff_schedule(attempts: int, *, base: float, cap: float) -> list[float]:
    """Seconds to wait before each retry: ``base``, ``2·base``, ``4·base``… capped at ``cap``.

    ``attempts`` counts every try, so there are ``attempts - 1`` waits; bounded by construction.
    """
    return [min(cap, base * 2**i) for i in range(max(0, attempts - 1))]


def retryable(status: int | None) -> bool:
    """No answer (``None``), 408, 429 and 5xx may succeed later; other statuses will not."""
    return status is None or status in (408, 429) or status >= 500


class WebhookConfigError(ConfigError):
    """A webhook URL that is not http(s): one line, exit code 2."""


def parse_urls(value: str) -> tuple[str, ...]:
    """``RASD_WEBHOOK_URLS``: comma-separated http(s) URLs, blanks ignored."""
    urls = tuple(u.strip() for u in value.split(",") if u.strip())
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise WebhookConfigError(f"RASD_WEBHOOK_URLS: webhook URL must be http(s): {redact_url(url)!r}")
    return urls


FAILURE_REASONS = ("timeout", "connection", "http_4xx", "http_5xx", "http_other")


def failure_reason(status: int | None, error: str) -> str:
    """The ``reason`` label of an undelivered alert: one of :data:`FAILURE_REASONS` (bounded, whatever the error)."""
    if status is None:
        return "timeout" if error.startswith(("TimeoutError", "ServerTimeoutError")) else "connection"
    if 400 <= status < 500:
        return "http_4xx"
    return "http_5xx" if 500 <= status < 600 else "http_other"


def failure_text(url: str, error: str, attempts: int) -> str:
    """The error of an undelivered alert's dead letter (and log line): the URL and any URL in ``error`` redacted."""
    return redact_text(f"{redact_url(url)}: {error} after {attempts} attempt(s)")
