"""Classifier settings (`CLASSIFIER_*`), with the shared infrastructure settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.capability_policy import DEFAULT_LOCAL_MIN_USABLE
from providers.settings import ProviderSettings
from services.classifier.tier_model import DEFAULT_ARTIFACT
from services.common.settings import InfraSettings

DEFAULT_CAPABILITY_PATH = Path(__file__).resolve().parents[2] / "data/routine/capability.json"


class ClassifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore")

    max_in_flight: int = Field(default=64, ge=1)
    router_path: Path = Field(
        default=DEFAULT_ARTIFACT,
        description="The tier router artifact (its checksum file sits beside it); "
        "a missing or corrupt one stops start-up.",
    )
    capability_path: Path = Field(
        default=DEFAULT_CAPABILITY_PATH,
        description="The local model's measured usable rate per routine kind, written by "
        "`make eval-routine`; a missing or invalid file stops start-up.",
    )
    local_min_usable: float = Field(
        default=DEFAULT_LOCAL_MIN_USABLE,
        ge=0.0,
        le=1.0,
        description="The usable rate a routine kind needs before the local model serves it.",
    )
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    """Only `CATALOGUE_PATH` is read: a model the caller names is looked up in it."""
    infra: InfraSettings = Field(default_factory=InfraSettings)
