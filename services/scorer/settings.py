"""Scorer settings (`SCORER_*`), with infrastructure and provider settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.catalogue import GEMINI_FLASH, LOCAL_MODEL
from providers.settings import ProviderSettings
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
    escalation_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="An answer from an escalating model whose calibrated confidence is below "
        "this goes to the next model on its route; 0 turns escalation off.",
    )
    escalation_campaign_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description='Per-campaign thresholds, JSON: {"campaign-id": 0.7}; others use the default.',
    )
    escalation_max: int = Field(
        default=1, ge=0, description="Escalations per analysis at most (0: never)."
    )
    escalation_models: list[str] = Field(
        default_factory=lambda: [f"local/{LOCAL_MODEL}", f"gemini/{GEMINI_FLASH}"],
        description='The "provider/model" pairs whose unsure answers escalate (JSON list).',
    )
    escalation_requires_calibration: bool = Field(
        default=True,
        description="Escalate only once a calibration is fitted (the identity's score is not "
        "a probability).",
    )
    answer_checks: bool = Field(
        default=True,
        description="Check every local answer before release (core/answer_checks.py); a "
        "failed check escalates to the next model on the route.",
    )
    calibration_catch_up_s: float = Field(
        default=10.0,
        gt=0.0,
        description="At start-up, how long to wait for the calibration already published.",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)

    def escalation_policy(self) -> EscalationPolicy:
        return EscalationPolicy(
            threshold=self.escalation_threshold,
            campaign_thresholds=dict(self.escalation_campaign_thresholds),
            max_escalations=self.escalation_max,
            requires_calibration=self.escalation_requires_calibration,
            checked_providers=frozenset({"local"}) if self.answer_checks else frozenset(),
            models=frozenset(
                (provider, model)
                for provider, _, model in (m.partition("/") for m in self.escalation_models)
            ),
        )
