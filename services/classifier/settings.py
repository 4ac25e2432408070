"""Classifier settings (`CLASSIFIER_*`), with the shared infrastructure settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import InfraSettings


class ClassifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore")

    max_in_flight: int = Field(default=64, ge=1)
    infra: InfraSettings = Field(default_factory=InfraSettings)
