"""Service settings: one frozen pydantic-settings object per service, read once at start-up.

Every variable starts with ``RASD_``.  Settings shared by all services:

* ``RASD_BOOTSTRAP_SERVERS`` — Kafka bootstrap servers; empty means "the embedded
  local broker" (``rasd run`` starts it and passes its address to the workers).
* ``RASD_PARTITIONS`` — partitions for topics the services create (default 4).
* ``RASD_DATA_DIR`` — where Faust keeps its table data (default ``var/``).
* ``RASD_TOPIC_<NAME>`` — topic names (see :class:`schemas.topics.Topics`).
* ``RASD_<SERVICE>_METRICS_PORT`` — the Prometheus port of each service.
* ``RASD_KAFKA_*`` — SASL and TLS of every Kafka client (:mod:`services.common.security`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from schemas.topics import Topics

from .security import KafkaSecuritySettings, require_webhook_secret
from .stage import Limits

SERVICES: tuple[str, ...] = ("normalizer", "deduplicator", "entities", "alerter")
# Started by `rasd run` only when configured (the webhook sink: when RASD_WEBHOOK_URLS is set).
OPTIONAL_SERVICES: tuple[str, ...] = ("webhook",)
DEFAULT_METRICS_PORTS: dict[str, int] = {
    "normalizer": 9101,
    "deduplicator": 9102,
    "entities": 9103,
    "alerter": 9104,
    "webhook": 9105,
}


class CommonSettings(KafkaSecuritySettings):
    """What every service reads: broker (and its security settings), partitions, state directory, topic names."""

    model_config = SettingsConfigDict(env_prefix="RASD_", frozen=True, extra="ignore")

    service: ClassVar[str] = ""

    bootstrap_servers: str = Field(default="", description="Kafka bootstrap servers; empty = embedded broker")
    app_id_prefix: str = Field(
        default="rasd", description="Faust app id / consumer group prefix: <prefix>-<service>"
    )
    partitions: int = Field(default=4, ge=1, description="Partitions of the topics the services create")
    data_dir: Path = Field(default=Path("var"), description="Faust table state directory")
    metrics_host: str = Field(default="127.0.0.1", description="Interface the metrics server binds to")
    fetch_max_wait_ms: int = Field(
        default=100, ge=0, le=30_000,
        description="Longest the broker holds a fetch with nothing new (Faust's own 1500 ms stalled hops)",
    )
    producer_linger_ms: float = Field(
        default=5.0, ge=0.0, le=10_000.0,
        description="How long the producer waits to fill a batch (Faust's default 0 sent one article per request)",
    )
    fetch_min_bytes: int = Field(
        default=1, ge=1, le=50 * 1024 * 1024,
        description="Bytes the broker waits for (up to fetch_max_wait_ms) before answering a fetch",
    )
    # Size limits (docs/reliability.md, "Size limits"): an article over one is a dead letter (reason too_large).
    max_raw_bytes: int = Field(
        default=655_360, ge=1_024, le=100 * 1024 * 1024,
        description="Largest raw article message (key and value bytes) the normalizer decodes",
    )
    max_title_chars: int = Field(default=1_000, ge=1, description="Longest raw article title, in characters")
    max_body_chars: int = Field(default=100_000, ge=1, description="Longest raw article body, in characters")
    max_message_bytes: int = Field(
        default=1_000_000, ge=131_072, le=100 * 1024 * 1024,
        description="Largest message a service produces (key, value, record overhead): the producer's"
        " max_request_size; the topics' max.message.bytes must allow it (Kafka's default 1,048,588 does)",
    )
    group_instance_id: str = Field(
        default="", description="Static consumer-group member id ({service}, {tag}, {hostname} filled in); empty ="
        " dynamic membership.  A restarted worker with the same id takes its place at once (docs/reliability.md)",
    )
    session_timeout_ms: int = Field(
        default=10_000, ge=1_000, le=300_000,
        description="How long the group waits for a silent member (killed, cut off) before moving its partitions",
    )
    shutdown_timeout: float = Field(
        default=8.0, gt=0.0, le=300.0, description="Seconds after SIGTERM/SIGINT a worker exits, done or not",
    )
    topics: Topics = Field(default_factory=Topics)

    @property
    def limits(self) -> Limits:
        """The size limits the stage edge checks (:class:`services.common.stage.Limits`)."""
        return Limits(raw_bytes=self.max_raw_bytes, title_chars=self.max_title_chars,
                      body_chars=self.max_body_chars, message_bytes=self.max_message_bytes)

    @property
    def app_id(self) -> str:
        """The Faust app id, which is also the service's consumer group."""
        return f"{self.app_id_prefix}-{self.service}"

    @property
    def broker_url(self) -> str:
        """Faust broker URL(s) for the bootstrap servers."""
        servers = [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]
        if not servers:
            raise ValueError("RASD_BOOTSTRAP_SERVERS is empty: start the local broker first (rasd run)")
        return ";".join(f"kafka://{s}" for s in servers)


class NormalizerSettings(CommonSettings):
    """Settings of the normalizer service."""

    service: ClassVar[str] = "normalizer"
    normalizer_metrics_port: int = DEFAULT_METRICS_PORTS["normalizer"]


class DeduplicatorSettings(CommonSettings):
    """Settings of the deduplicator service (``RASD_DEDUP_*`` tune the near-duplicate test)."""

    service: ClassVar[str] = "deduplicator"
    deduplicator_metrics_port: int = DEFAULT_METRICS_PORTS["deduplicator"]
    dedup_threshold: float = Field(default=0.5, gt=0.0, le=1.0, description="Min estimated Jaccard")
    dedup_num_perm: int = Field(default=60, ge=16, description="MinHash bins")
    dedup_bands: int = Field(default=20, ge=1, description="LSH bands (must divide num_perm, <= 4 rows each)")
    dedup_shingle: int = Field(default=3, ge=1, description="Words per shingle")
    dedup_retention_days: float = Field(default=14.0, gt=0.0, description="How long an article stays indexed")
    dedup_story_threshold: float = Field(
        default=0.4, gt=0.0, description="Min story score (places, words, actors, categories) for one story"
    )
    dedup_story_window_hours: float = Field(
        default=72.0, gt=0.0, description="Max publication-time gap between articles of one story"
    )


class EntitiesSettings(CommonSettings):
    """Settings of the entities service."""

    service: ClassVar[str] = "entities"
    entities_metrics_port: int = DEFAULT_METRICS_PORTS["entities"]
    entities_tagger: bool = Field(
        default=True, description="Arabic entities from the learned tagger (and the rules that win on CV); off: rules",
    )


class AlerterSettings(CommonSettings):
    """Settings of the alerter service."""

    service: ClassVar[str] = "alerter"
    alerter_metrics_port: int = DEFAULT_METRICS_PORTS["alerter"]
    alert_emit_low: bool = Field(default=False, description="Also emit low-severity alerts")


class WebhookSettings(CommonSettings):
    """Settings of the webhook sink (``RASD_WEBHOOK_*``)."""

    service: ClassVar[str] = "webhook"
    webhook_metrics_port: int = DEFAULT_METRICS_PORTS["webhook"]
    webhook_urls: str = Field(default="", description="Comma-separated URLs alerts are POSTed to")
    webhook_secret: SecretStr = Field(default=SecretStr(""), description="HMAC-SHA256 signing secret")
    webhook_allow_unsigned: bool = Field(default=False, description="Start without a secret: send unsigned requests")
    webhook_max_attempts: int = Field(default=5, ge=1, le=20, description="Tries per URL before dead-lettering")
    webhook_backoff_base: float = Field(default=0.5, gt=0, description="First retry wait, seconds (doubles)")
    webhook_backoff_max: float = Field(default=30.0, gt=0, description="Longest retry wait, seconds")
    webhook_timeout: float = Field(default=10.0, gt=0, description="Timeout of one POST, seconds")
    webhook_from: Literal["latest", "earliest"] = Field(
        default="latest", description="Where a new sink (a group with no stored position) starts on the alerts topic",
    )

    @model_validator(mode="after")
    def _signed_unless_allowed(self) -> Self:
        require_webhook_secret(self.webhook_secret.get_secret_value(), allow_unsigned=self.webhook_allow_unsigned)
        return self


def metrics_port(settings: CommonSettings) -> int:
    """The metrics port of the service these settings belong to."""
    port: int = getattr(settings, f"{settings.service}_metrics_port")
    return port


SETTINGS_BY_SERVICE: dict[str, type[CommonSettings]] = {
    "normalizer": NormalizerSettings,
    "deduplicator": DeduplicatorSettings,
    "entities": EntitiesSettings,
    "alerter": AlerterSettings,
    "webhook": WebhookSettings,
}
