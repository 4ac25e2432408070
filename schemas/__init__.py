"""Event contracts: one frozen pydantic model per Kafka topic, JSON on the wire.

Decode bytes into these models at the edge (the worker) and hand only models inward.
"""

from schemas.attempt import AttemptOutcome, ProviderAttempt
from schemas.base import EventModel, ProviderName
from schemas.classified import Classification, QueryClassified, RouteStep
from schemas.completion import Answer, AttemptSummary, Citation, CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.health import ProviderState, ProviderStatus
from schemas.query import QueryOptions, QueryRequested
from schemas.response import AnalysisResponded, Confidence, ConfidenceComponent, Routing
from schemas.topics import TOPIC_MODELS, TopicNames, TopicSpec

__all__ = [
    "AnalysisResponded",
    "Answer",
    "AttemptOutcome",
    "AttemptSummary",
    "Citation",
    "Classification",
    "CompletionProduced",
    "Confidence",
    "ConfidenceComponent",
    "DeadLetter",
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
