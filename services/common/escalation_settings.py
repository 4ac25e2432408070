"""The scorer's escalation settings (`SCORER_ESCALATION_*`, `SCORER_ANSWER_CHECKS`), in one place.

The scorer acts on them (services/scorer/escalation.py); the dispatcher reads the same
ones to know, before an attempt's first delta, whether the answer may still be replaced
(services/dispatcher/release.py). Both processes embed this class, so give them the same
environment: a dispatcher that believes escalation is off would stream live an answer the
scorer then replaces (announced to the caller as `restart`, never swapped silently).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.escalation_scope import EscalationScope
from providers.catalogue import GEMINI_FLASH, LOCAL_MODEL

CHECKED_PROVIDERS = frozenset({"local"})
"""Providers whose every answer passes the pre-release check when `answer_checks` is on."""


class EscalationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORER_", extra="ignore")

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

    def scope(self) -> EscalationScope:
        """Which answers an escalation may replace."""
        return EscalationScope(
            threshold=self.escalation_threshold,
            campaign_thresholds=dict(self.escalation_campaign_thresholds),
            max_escalations=self.escalation_max,
            checked_providers=CHECKED_PROVIDERS if self.answer_checks else frozenset(),
            models=frozenset(
                (provider, model)
                for provider, _, model in (m.partition("/") for m in self.escalation_models)
            ),
        )
