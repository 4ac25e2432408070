"""The audit-topic records of one routed query, made up but realistic, for measuring the recorder.

`query_events(n)` gives query `n`'s records, one list per topic: the query, its
classification, a provider attempt's `started` and `success` records and the scored
response (provider-health heartbeats are not recorded). The same `n` gives the same
records, ids included, so feeding them twice is a redelivery. `python -m bench.recorder`
and the recorder's tests feed them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.attempt import ProviderAttempt
from schemas.base import EventModel
from schemas.classified import QueryClassified
from schemas.parts import Classification, Confidence, ConfidenceComponent, RouteStep
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded, Routing

EVENTS_PER_QUERY = 5
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def event_id(n: int, what: str) -> str:
    """A stable id for record `what` of query `n`."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{n}/{what}").hex


def query_events(n: int, campaign: str = "bench") -> list[list[EventModel]]:
    """The audit-topic records of query `n`, one list per topic (query, classified,
    attempts, response), with realistic sizes and fields; the same every time."""
    at = T0 + timedelta(seconds=n)

    def ids(what: str) -> str:
        return event_id(n, what)

    query = QueryRequested(query_id=ids("query"), event_id=ids("queries"), submitted_at=at,
                           query=f"What are the top three issues for suburban voters in "
                                 f"district {n}, and how did they shift since the primary?",
                           campaign_id=campaign, occurred_at=at)
    classified = QueryClassified(
        query=query, event_id=ids("classified"), occurred_at=at + timedelta(milliseconds=5),
        classification=Classification(
            complexity=0.62, needs_live_data=False, analysis_type="voter_sentiment",
            cost_sensitive=False, tier="standard",
            tier_probabilities={"simple": 0.08, "standard": 0.71, "complex": 0.19, "live": 0.02},
            router_version="tier-router-2026-01", features={"length": 0.4, "entities": 0.2},
            reasons=["moderate analysis", "no live data needed"]),
        route=[RouteStep(provider="gemini", model="gemini-2.5-flash", reason="standard tier"),
               RouteStep(provider="gemini", model="gemini-2.5-pro", reason="fallback"),
               RouteStep(provider="local", model="smollm2-135m", reason="last resort")])
    started = ProviderAttempt(query_id=query.query_id, provider="gemini",
                              model="gemini-2.5-flash", attempt_number=1, outcome="started",
                              event_id=ids("started"),
                              latency_ms=0.0, occurred_at=at + timedelta(milliseconds=8))
    success = ProviderAttempt(query_id=query.query_id, provider="gemini",
                              model="gemini-2.5-flash", attempt_number=1, outcome="success",
                              event_id=ids("success"),
                              latency_ms=812.0, input_tokens=420, output_tokens=350,
                              cost_usd=0.00096, occurred_at=at + timedelta(milliseconds=820))
    response = AnalysisResponded(
        analysis_id=query.query_id, event_id=ids("response"), analysis_type="voter_sentiment",
        status="completed",
        result="Cost of living, schools and public safety; schools rose since the primary. "
               * 8,
        created_at=at, completed_at=at + timedelta(milliseconds=840),
        occurred_at=at + timedelta(milliseconds=840), campaign_id=campaign,
        routing=Routing(path="intelligent", provider="gemini", model="gemini-2.5-flash",
                        cost_usd=0.00096, baseline_cost_usd=0.0041, latency_ms=840.0,
                        provider_latency_ms=812.0, explanation="standard tier; Flash answered"),
        confidence=Confidence(score=0.74, components={
            name: ConfidenceComponent(value=0.74, weight=0.2, detail=f"{name} measured")
            for name in ("model_certainty", "source_quality", "cross_validation",
                         "historical_accuracy", "route_fit")}))
    return [[query], [classified], [started, success], [response]]
