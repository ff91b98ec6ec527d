"""Topic names (configurable) and the stage that produces each."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Topics(BaseSettings):
    """Names of the pipeline's topics, overridable with ``RASD_TOPIC_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="RASD_TOPIC_", frozen=True)

    raw: str = Field(default="articles.raw")
    normalized: str = Field(default="articles.normalized")
    unique: str = Field(default="articles.unique")
    duplicates: str = Field(default="articles.duplicates")
    enriched: str = Field(default="articles.enriched")
    alerts: str = Field(default="alerts")
    dlq: str = Field(default="articles.dlq")
    webhook_dlq: str = Field(default="alerts.webhook.dlq")

    def all(self) -> list[str]:
        """Every topic name, in pipeline order."""
        return [
            self.raw, self.normalized, self.unique, self.duplicates, self.enriched, self.alerts, self.dlq,
            self.webhook_dlq,
        ]
