"""Classify a query and attach its route. Pure: no I/O, same input -> same output."""

from __future__ import annotations

import json

from schemas.classified import Classification, QueryClassified
from schemas.query import QueryRequested
from services.classifier.features import extract_features, infer_analysis_type
from services.classifier.model_route import build_route

LIVE_DATA_THRESHOLD = 1.0


def classify(query: QueryRequested) -> QueryClassified:
    """The classification of `query` with the reasons for it, and the ordered route."""
    context_chars = len(_context_text(query))
    features = extract_features(query.query, context_chars)
    reasons: list[str] = []

    if query.options.live_data is not None:
        needs_live = query.options.live_data
        reasons.append(f"live data {'requested' if needs_live else 'excluded'} by caller")
    else:
        needs_live = features.live_score >= LIVE_DATA_THRESHOLD
        if needs_live:
            cues = features.live_strong + features.live_weak
            reasons.append(f"asks for current information ({', '.join(cues)})")

    complexity = features.complexity
    if features.reasoning:
        reasons.append(f"reasoning cues: {', '.join(features.reasoning)}")
    cost_sensitive = bool(features.simple_task) or query.options.prefer == "cost"
    if features.simple_task:
        reasons.append(f"routine editing task ({', '.join(features.simple_task)})")
    elif cost_sensitive:
        reasons.append("caller prefers the lowest cost")

    analysis_type = query.analysis_type or infer_analysis_type(query.query)
    classification = Classification(
        complexity=complexity,
        needs_live_data=needs_live,
        analysis_type=analysis_type,
        cost_sensitive=cost_sensitive,
        features=features.as_dict(),
        reasons=reasons or ["no strong cues: standard analysis"],
    )
    return QueryClassified(
        query=query,
        classification=classification,
        route=build_route(classification, query.options),
    )


def _context_text(query: QueryRequested) -> str:
    if query.context is None:
        return ""
    if isinstance(query.context, str):
        return query.context
    return json.dumps(query.context)
