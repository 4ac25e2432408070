"""Settings of the audit tool: the shared infrastructure names and the model catalogue."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import InfraSettings


class AuditSettings(BaseSettings):
    """`KAFKA_BOOTSTRAP_SERVERS`, `TOPIC_NAMESPACE`, `REDIS_URL` as every process;
    `CATALOGUE_PATH` for prices (the built-in catalogue when unset)."""

    model_config = SettingsConfigDict(extra="ignore")

    catalogue_path: str | None = None
    infra: InfraSettings = Field(default_factory=InfraSettings)
