"""Event contracts: one frozen pydantic model per Kafka topic, JSON on the wire.

Decode bytes into these models at the edge (the worker) and hand only models inward.
"""

from schemas.attempt import AttemptOutcome, ProviderAttempt
from schemas.base import EventModel, ProviderName
from schemas.calibration import CalibrationPublished
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.delta import AnswerDelta
from schemas.health import ProviderState, ProviderStatus
from schemas.parts import (
    Answer,
    AttemptSummary,
    Citation,
    Classification,
    Confidence,
    ConfidenceComponent,
    RouteStep,
)
from schemas.query import Escalation, QueryOptions, QueryRequested
from schemas.response import AnalysisResponded, Routing
from schemas.topics import TOPIC_MODELS, TopicNames, TopicSpec

__all__ = [
    "AnalysisResponded",
    "AnswerDelta",
    "Answer",
    "AttemptOutcome",
    "AttemptSummary",
    "CalibrationPublished",
    "Citation",
    "Classification",
    "CompletionProduced",
    "Confidence",
    "ConfidenceComponent",
    "DeadLetter",
    "Escalation",
    "EventModel",
    "ProviderAttempt",
    "ProviderName",
    "ProviderState",
    "ProviderStatus",
    "QueryClassified",
    "QueryOptions",
    "QueryRequested",
    "RouteStep",
    "Routing",
    "TOPIC_MODELS",
    "TopicNames",
    "TopicSpec",
]
