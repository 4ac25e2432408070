"""A fitted calibration of the confidence score (topic: calibrations, compacted).

The scorer's weighted mean of signals (`raw_score`) is not a probability: a raw 0.7
may be right 90 % of the time for one mix of models and 50 % for another. A
calibration, fitted on graded answers by `python -m audit calibrate`, maps it to the
probability that the answer is right. Every scorer follows the topic and applies the
latest one to its next score, so a new fit takes effect without a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, model_validator

from schemas.base import EventModel, utc_now

CalibrationMethod = Literal["identity", "isotonic", "platt"]
IDENTITY_VERSION = "identity"
CALIBRATION_KEY = "current"
"""Every calibration is published under this one key, so compaction keeps the latest."""


class CalibrationPublished(EventModel):
    """One versioned calibration; the latest on the topic is the one in force.

    - identity: `score = raw_score` (too few graded outcomes to fit one; `reason` says so);
    - isotonic: piecewise-linear through (`xs`, `ys`), both non-decreasing, clamped at
      the ends;
    - platt: `score = 1 / (1 + exp(-(slope * raw_score + intercept)))`.
    """

    version: str = Field(min_length=1, max_length=64)
    method: CalibrationMethod
    xs: list[float] = Field(default_factory=list)
    ys: list[float] = Field(default_factory=list)
    slope: float | None = None
    intercept: float | None = None
    n_graded: int = Field(ge=0)
    n_correct: int = Field(default=0, ge=0)
    fitted_at: datetime = Field(default_factory=utc_now)
    reason: str = Field(description="Why this method (the measurement), or why the identity.")
    metrics: dict[str, float] = Field(
        default_factory=dict,
        description="Cross-validated held-out figures of the candidate methods "
        "(e.g. isotonic_log_loss, platt_log_loss, isotonic_ece, platt_ece).",
    )

    @model_validator(mode="after")
    def _parameters_match_method(self) -> CalibrationPublished:
        if self.method == "isotonic":
            if len(self.xs) != len(self.ys) or not self.xs:
                raise ValueError("isotonic needs xs and ys of the same, non-zero length")
            if any(b < a for a, b in zip(self.xs, self.xs[1:], strict=False)) or any(
                b < a for a, b in zip(self.ys, self.ys[1:], strict=False)
            ):
                raise ValueError("isotonic xs and ys must be non-decreasing")
        if self.method == "platt" and (self.slope is None or self.intercept is None):
            raise ValueError("platt needs slope and intercept")
        return self


IDENTITY = CalibrationPublished(
    version=IDENTITY_VERSION,
    method="identity",
    n_graded=0,
    fitted_at=datetime(1970, 1, 1, tzinfo=UTC),
    reason="no calibration published yet",
)
"""In force until a calibration arrives on the topic."""
