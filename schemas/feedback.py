"""A strategist's grade of one answer (topic: feedback, keyed by analysis id)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel, ProviderName

Rating = Literal["correct", "partially_correct", "incorrect"]
RATINGS: tuple[Rating, ...] = ("correct", "partially_correct", "incorrect")
MAX_COMMENT_CHARS = 4_000
MAX_GRADER_CHARS = 128


class FeedbackGiven(EventModel):
    """Published by the app when someone grades an analysis; never changed, only added to.

    It carries what it grades (provider, model, analysis type, as the response recorded
    them), so the scorer's accuracy counts need no lookup and can be rebuilt from this
    topic alone. `provider` and `model` are null for an analysis that failed (nothing
    answered). The scorer counts `partially_correct` as a graded answer that was not
    right: the confidence score estimates the probability that an answer is right.
    """

    analysis_id: str = Field(min_length=1, max_length=64)
    rating: Rating
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    grader: str | None = Field(default=None, max_length=MAX_GRADER_CHARS)
    provider: ProviderName | None = None
    model: str | None = Field(default=None, max_length=128)
    analysis_type: str | None = Field(default=None, max_length=64)
    campaign_id: str | None = Field(default=None, max_length=128)
