"""Event contracts: one frozen pydantic model per Kafka topic, JSON on the wire.

Decode bytes into these models at the edge (the worker) and hand only models inward.
"""

from schemas.attempt import AttemptOutcome, ProviderAttempt
from schemas.base import EventModel, ProviderName
from schemas.calibration import CalibrationPublished
from schemas.classified import Classification, QueryClassified, RouteStep
from schemas.completion import Answer, AttemptSummary, Citation, CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.health import ProviderState, ProviderStatus
from schemas.query import Escalation, QueryOptions, QueryRequested
from schemas.response import AnalysisResponded, Confidence, ConfidenceComponent, Routing
from schemas.topics import TOPIC_MODELS, TopicNames, TopicSpec

__all__ = [
    "AnalysisResponded",
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


def _resolve_escalation() -> None:
    """`QueryRequested.escalation` names models that themselves embed `QueryRequested`
    (an import cycle), so they are written as forward references and resolved here,
    once every module is loaded; the models that embed the query are rebuilt after it."""
    from schemas import query

    namespace = {
        "Answer": Answer,
        "AttemptSummary": AttemptSummary,
        "Confidence": Confidence,
        "RouteStep": RouteStep,
    }
    query.Escalation.model_rebuild(_types_namespace=namespace)
    query.QueryRequested.model_rebuild(_types_namespace=namespace)
    for model in (QueryClassified, CompletionProduced):
        model.model_rebuild(force=True)


_resolve_escalation()
