"""Dispatcher settings (`DISPATCHER_*`), with infrastructure and provider settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.settings import ProviderSettings
from services.common.settings import InfraSettings


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCHER_", extra="ignore")

    max_in_flight: int = Field(default=256, ge=1, description="Concurrent queries per process.")
    attempt_timeout_cap_s: float = Field(
        default=4.5,
        gt=0,
        description="Upper bound on any hosted provider attempt, so failover starts within 5 s.",
    )
    health_stale_after_s: float = Field(
        default=20.0,
        gt=0,
        description="Ignore a provider status older than this (a dead monitor must not pin "
        "a provider down).",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
