"""Recorder settings (`RECORDER_*`), with the infrastructure settings and the database URL."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.database import sqlalchemy_url
from services.common.settings import InfraSettings


class RecorderSettings(BaseSettings):
    """`DATABASE_URL` (required: there is no default password) and `RECORDER_*` tuning."""

    model_config = SettingsConfigDict(env_prefix="RECORDER_", extra="ignore")

    database_url: SecretStr = Field(
        validation_alias=AliasChoices("DATABASE_URL", "RECORDER_DATABASE_URL"),
        description="PostgreSQL URL, e.g. postgresql://user:password@127.0.0.1:5432/strategist "
        "(scripts/postgres.sh url prints the local one).",
    )
    max_in_flight: int = Field(
        default=16, ge=1, description="Events written at once per topic (one connection each)."
    )
    pool_size: int = Field(default=10, ge=1, description="Database connections kept open.")
    linger_ms: float = Field(
        default=50.0,
        ge=0.0,
        le=1000.0,
        description="How long the first event of a transaction waits for others to share it "
        "(the audit trail's delay, never an answer's; 0 writes at once).",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)

    @field_validator("database_url")
    @classmethod
    def _name_the_driver(cls, value: SecretStr) -> SecretStr:
        return SecretStr(sqlalchemy_url(value.get_secret_value()))
