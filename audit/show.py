"""One analysis's trail as a document (JSON) or as text for people (`audit show`)."""

from __future__ import annotations

from typing import Any, TextIO

from audit.trail import Trail, tier_view


def _attempt_rows(trail: Trail) -> list[dict[str, Any]]:
    rows = []
    for a in sorted(trail.attempts, key=lambda a: (a.attempt_number, a.outcome != "started")):
        rows.append(
            {
                "attempt_id": a.attempt_id,
                "time": a.occurred_at.isoformat(),
                "provider": a.provider,
                "model": a.model,
                "outcome": a.outcome,
                "error": f"{a.error_kind}: {a.error_message}" if a.error_kind else None,
                "latency_ms": a.latency_ms if a.outcome != "started" else None,
                "tokens_in": a.input_tokens,
                "tokens_out": a.output_tokens,
                "cost_usd": a.cost_usd,
            }
        )
    return rows


def _steps(trail: Trail) -> list[dict[str, Any]]:
    """The route as the dispatcher walked it: skipped steps carry the provider status (or
    cooldown) it acted on."""
    source = trail.completion.attempts if trail.completion else []
    if not source and trail.response is not None:
        routing = trail.response.routing
        source = [*routing.failed_attempts, *routing.skipped]
    return [
        {
            "provider": s.provider,
            "model": s.model,
            "outcome": s.outcome,
            "reason": f"{s.error_kind}: {s.error_message}" if s.error_kind else None,
            "latency_ms": s.latency_ms,
            "cost_usd": s.cost_usd,
        }
        for s in source
    ]


def _set_aside(trail: Trail) -> list[dict[str, Any]]:
    """The answers the scorer set aside (a failed pre-release check or low confidence),
    each with why and what it said: they were never shown to the caller."""
    rounds = [c.query.escalation for c in trail.escalated if c.query.escalation is not None]
    return [
        {
            "round": escalation.escalations,
            "provider": escalation.answer.provider,
            "model": escalation.answer.model,
            "reason": escalation.reason,
            "confidence": escalation.confidence.score if escalation.confidence else None,
            "answer": escalation.answer.text,
        }
        for escalation in sorted(rounds, key=lambda e: e.escalations)
    ]


def trail_document(trail: Trail) -> dict[str, Any]:
    """Everything recorded, as plain data."""
    response = trail.response
    classification = trail.classification
    route = trail.classified.route if trail.classified else []
    if not route and response is not None:
        route = response.routing.route
    return {
        "analysis_id": trail.analysis_id,
        "trace_id": trail.trace_id,
        "query": trail.query.model_dump(mode="json") if trail.query else None,
        "classification": (
            {
                **tier_view(classification),
                "complexity": classification.complexity,
                "needs_live_data": classification.needs_live_data,
                "analysis_type": classification.analysis_type,
                "routine_kind": classification.routine_kind,
                "reasons": classification.reasons,
            }
            if classification
            else None
        ),
        "route": [s.model_dump(mode="json") for s in route],
        "steps": _steps(trail),
        "attempts": _attempt_rows(trail),
        "answer": (
            {
                "status": response.status,
                "path": response.routing.path,
                "provider": response.routing.provider,
                "model": response.routing.model,
                "cost_usd": response.routing.cost_usd,
                "baseline_cost_usd": response.routing.baseline_cost_usd,
                "latency_ms": response.routing.latency_ms,
                "explanation": response.routing.explanation,
                "result": response.result,
                "error": response.error,
                "citations": [c.url for c in response.citations],
            }
            if response
            else None
        ),
        "confidence": response.confidence.model_dump(mode="json")
        if response and response.confidence
        else None,
        "set_aside": _set_aside(trail),
        "responses_recorded": len(trail.responses),
        "feedback": [f.model_dump(mode="json") for f in trail.feedback],
        "dead_letters": [
            {
                "service": d.service,
                "source": f"{d.source_topic}[{d.partition}]@{d.offset}",
                "error": f"{d.error_type}: {d.error_message}",
            }
            for d in trail.dead_letters
        ],
    }


def _line(out: TextIO, name: str, value: Any) -> None:
    out.write(f"  {name:<20}{'-' if value is None else value}\n")


def render(document: dict[str, Any], out: TextIO) -> None:
    """The trail as sections of text, in the order things happened."""
    from audit.output import table

    out.write(f"analysis {document['analysis_id']}\n")
    out.write(f"trace    {document.get('trace_id') or '- (not traced)'}\n\nQUERY\n")
    query = document["query"]
    if query:
        _line(out, "submitted", query["submitted_at"])
        _line(out, "campaign", query["campaign_id"])
        _line(out, "type", query["analysis_type"])
        _line(out, "text", query["query"][:300])
    else:
        _line(out, "query", "not on the queries topic (direct path, or missing)")
    out.write("\nCLASSIFICATION\n")
    c = document["classification"]
    if c:
        probabilities = c.get("tier_probabilities") or {}
        shown = ", ".join(f"{t} {p:.2f}" for t, p in sorted(probabilities.items()))
        _line(out, "tier", c.get("tier"))
        _line(out, "probabilities", shown or None)
        _line(out, "router version", c.get("router_version"))
        _line(out, "complexity", c["complexity"])
        _line(out, "live data", c["needs_live_data"])
        _line(out, "analysis type", c["analysis_type"])
        _line(out, "routine kind", c.get("routine_kind"))
        _line(out, "reasons", "; ".join(c["reasons"]) or None)
    else:
        _line(out, "classification", "none recorded")
    out.write("\nROUTE\n")
    for n, step in enumerate(document["route"], 1):
        out.write(f"  {n}. {step['provider']}/{step['model']}: {step['reason']}\n")
    out.write("\nSTEPS (as the dispatcher walked the route)\n")
    table(document["steps"], out)
    out.write("\nATTEMPTS (provider-attempts topic)\n")
    table(document["attempts"], out)
    out.write("\nANSWER\n")
    answer = document["answer"]
    if answer:
        for name in ("status", "path", "provider", "model", "cost_usd", "baseline_cost_usd"):
            _line(out, name, answer[name])
        _line(out, "latency_ms", answer["latency_ms"])
        _line(out, "explanation", answer["explanation"])
        _line(out, "error", answer["error"])
        _line(out, "result", (answer["result"] or "")[:500] or None)
    else:
        _line(out, "answer", "no response recorded")
    for aside in document.get("set_aside") or []:
        out.write(f"\nSET ASIDE (round {aside['round']}: not shown to the caller)\n")
        _line(out, "model", f"{aside['provider']}/{aside['model']}")
        _line(out, "reason", aside["reason"])
        _line(out, "confidence", aside["confidence"])
        _line(out, "answer", aside["answer"][:500])
    out.write("\nCONFIDENCE\n")
    confidence = document["confidence"]
    if confidence:
        _line(out, "score", confidence["score"])
        for key in ("raw_score", "calibration_version"):
            if key in confidence:
                _line(out, key, confidence[key])
        rows = [{"component": k, **v} for k, v in confidence["components"].items()]
        table(rows, out)
    else:
        _line(out, "confidence", None)
    out.write("\nFEEDBACK\n")
    feedback = [
        {k: f[k] for k in ("occurred_at", "rating", "grader", "comment")}
        for f in document["feedback"]
    ]
    table(feedback, out)
    if document["dead_letters"]:
        out.write("\nDEAD LETTERS\n")
        table(document["dead_letters"], out)
