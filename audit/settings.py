"""Settings of the audit tool: the shared infrastructure names and the model catalogue."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import InfraSettings


class AuditSettings(BaseSettings):
    """`KAFKA_BOOTSTRAP_SERVERS`, `TOPIC_NAMESPACE`, `REDIS_URL` as every process;
    `CATALOGUE_PATH` for prices (the built-in catalogue when unset);
    `CALIBRATION_MIN_GRADED` for `audit calibrate`."""

    model_config = SettingsConfigDict(extra="ignore")

    catalogue_path: str | None = None
    calibration_min_graded: int = Field(
        default=50,
        ge=1,
        description="CALIBRATION_MIN_GRADED: below this many graded answers `audit calibrate` "
        "publishes the identity (a fit on fewer is noise).",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
