"""Scorer settings (`SCORER_*`), with infrastructure and provider settings."""

from __future__ import annotations

from dataclasses import fields

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.catalogue import GEMINI_FLASH
from providers.settings import ProviderSettings
from services.common.escalation_settings import EscalationSettings
from services.common.settings import InfraSettings
from services.scorer.escalation import EscalationPolicy


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
    cross_check_timeout_s: float = Field(
        default=8.0,
        gt=0.0,
        description="Longest wait for the second opinion. The caller is waiting for the "
        "scored answer, so a second model that thinks for its full catalogue deadline "
        "(up to minutes) is given up on instead.",
    )
    escalation: EscalationSettings = Field(
        default_factory=EscalationSettings,
        description="SCORER_ESCALATION_* and SCORER_ANSWER_CHECKS, shared with the dispatcher "
        "(services/common/escalation_settings.py).",
    )
    calibration_catch_up_s: float = Field(
        default=10.0,
        gt=0.0,
        description="At start-up, how long to wait for the calibration already published.",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)

    def escalation_policy(self) -> EscalationPolicy:
        scope = self.escalation.scope()
        return EscalationPolicy(
            **{f.name: getattr(scope, f.name) for f in fields(scope)},
            requires_calibration=self.escalation.escalation_requires_calibration,
        )
