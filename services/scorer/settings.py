"""Scorer settings (`SCORER_*`), with infrastructure and provider settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.catalogue import GEMINI_FLASH
from providers.settings import ProviderSettings
from services.common.settings import InfraSettings


class ScorerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORER_", extra="ignore")

    max_in_flight: int = Field(default=128, ge=1)
    cross_check_provider: str = "gemini"
    cross_check_model: str = Field(
        default=GEMINI_FLASH,
        description="Second model for cross-validation (when always on, or asked per query).",
    )
    cross_check_always: bool = Field(
        default=False, description="Cross-validate every answer (doubles provider spend)."
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
