"""Feedback on an analysis: published on the feedback topic, kept in Redis for GET by id.

The topic is the record (the scorer counts it into the historical accuracy; the
audit tool shows it); Redis holds a copy per analysis id so `GET /analyses/<id>`
can show the feedback received without reading the topic. The publish comes
first: feedback the broker did not take is refused (503), never half-recorded.

`feedback_desk(components)` gives the process's desk, which the runtime builds
(`Components.feedback`, sharing the process's producer); components without one
(test doubles) raise `NoFeedbackDesk`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.feedback import FeedbackGiven
from schemas.response import AnalysisResponded
from services.common.producer import DeliveryError, EventProducer
from services.common.redis_keys import RedisKeys
from strategist.analysis.pipeline import PipelineUnavailable
from strategist.analysis.store import StoreUnavailable
from strategist.request import FeedbackRequest

logger = logging.getLogger(__name__)

ACK_GRACE_S = 0.5
MAX_SHOWN = 100
"""GET by id shows at most this many feedback entries (the latest)."""


class FeedbackAccepted(BaseModel):
    """The body of a 202 for feedback: recorded on the topic under `feedback_id`."""

    model_config = ConfigDict(extra="forbid")

    analysis_id: str
    feedback_id: str
    rating: str
    status: Literal["accepted"]


class AnalysisWithFeedback(AnalysisResponded):
    """`GET /analyses/<id>` of a finished analysis: the response and the feedback received."""

    feedback: list[FeedbackGiven] = Field(
        default_factory=list,
        description="Feedback received, oldest first; left out when the store could not say.",
    )


def feedback_event(
    analysis_id: str, body: FeedbackRequest, response: AnalysisResponded
) -> FeedbackGiven:
    """The event for a grade of `response`, naming the model it grades.

    The analysis type is the classifier's when recorded: the scorer looks the history up
    by that one (a caller's `analysis_type` may differ), so the grade lands where it is
    read.
    """
    classification = response.routing.classification
    return FeedbackGiven(
        analysis_id=analysis_id,
        rating=body.rating,
        comment=body.comment,
        grader=body.grader,
        provider=response.routing.provider,
        model=response.routing.model,
        analysis_type=(
            classification.analysis_type if classification else response.analysis_type
        ),
        campaign_id=response.campaign_id,
    )


class NoFeedbackDesk(LookupError):
    """These components have no feedback desk."""


class FeedbackDesk(Protocol):
    def give(self, event: FeedbackGiven) -> None: ...

    def received(self, analysis_id: str) -> list[FeedbackGiven]: ...


class KafkaFeedbackDesk:
    """Publishes feedback and keeps a copy per analysis in Redis (TTL)."""

    def __init__(
        self,
        *,
        producer: EventProducer,
        topic: str,
        redis_client: Callable[[], redis.Redis],
        keys: RedisKeys,
        ttl_s: int,
        delivery_timeout_s: float,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._redis = redis_client
        self._keys = keys
        self._ttl_s = ttl_s
        self._timeout_s = delivery_timeout_s

    def give(self, event: FeedbackGiven) -> None:
        """Raises PipelineUnavailable when the broker did not take it. A Redis failure
        after that is logged: the feedback is recorded, only GET by id misses it."""
        try:
            self._producer.send_and_wait(
                self._topic, event.analysis_id, event, timeout_s=self._timeout_s + ACK_GRACE_S
            )
        except DeliveryError as err:
            raise PipelineUnavailable(str(err)) from err
        key = self._keys.feedback(event.analysis_id)
        try:
            pipe = self._redis().pipeline(transaction=True)
            pipe.rpush(key, event.to_bytes())
            pipe.ltrim(key, -MAX_SHOWN, -1)
            pipe.expire(key, self._ttl_s)
            pipe.execute()
        except redis.RedisError as err:
            logger.warning(
                "feedback=%s analysis=%s on the topic, not in Redis: %s",
                event.event_id,
                event.analysis_id,
                err,
            )

    def received(self, analysis_id: str) -> list[FeedbackGiven]:
        """Raises StoreUnavailable."""
        try:
            raw = self._redis().lrange(self._keys.feedback(analysis_id), 0, -1)
        except redis.RedisError as err:
            raise StoreUnavailable(f"redis LRANGE: {err}") from err
        events = []
        for item in raw:
            try:
                events.append(FeedbackGiven.from_bytes(item))
            except ValidationError:
                logger.warning("unreadable stored feedback for analysis=%s", analysis_id)
        return events


def feedback_desk(components: Any) -> FeedbackDesk:
    """The process's desk (`Components.feedback`, built by the runtime). Raises
    NoFeedbackDesk for components without one (test doubles)."""
    desk: FeedbackDesk | None = getattr(components, "feedback", None)
    if desk is None:
        raise NoFeedbackDesk("no feedback desk in these components")
    return desk
