"""One analysis's audit trail from the decision records, as a timeline of events.

The same content as `audit show` (query, classification, route, every attempt and
failover, the answer, what the scorer weighed, feedback), read from the recorder's
tables instead of the topics so the page answers in milliseconds. Each event names the
topic its record came from and its time; the chart draws them as bars from the start of
the analysis (an attempt spans its call, the others are instants).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.topics import TopicNames

INSTANT_MS = 1.0
"""The width of an instant on the chart, so it stays visible."""


def _ms(moment: datetime | None, origin: datetime) -> float | None:
    return None if moment is None else (moment - origin).total_seconds() * 1000


def events(recorded: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recorded event in time order: label, topic, at (datetime), start/end ms."""
    topics = TopicNames("")
    analysis = recorded.get("analysis") or {}
    decision = recorded.get("decision")
    confidence = recorded.get("confidence")
    found: list[tuple[str, str, datetime | None, datetime | None]] = [
        ("Query submitted", topics.queries, analysis.get("submitted_at"), None),
    ]
    if decision:
        found.append((f"Classified: {decision.get('tier') or decision['analysis_type']}",
                      topics.classified, decision["decided_at"], None))
    for a in recorded.get("attempts") or []:
        what = a["outcome"] if a["outcome"] != "success" else "answered"
        error = f" ({a['error_class']})" if a.get("error_class") else ""
        found.append((f"Attempt {a['attempt_number']}: {a['provider']}/{a['model']} {what}"
                       f"{error}", topics.provider_attempts, a.get("started_at"),
                      a.get("finished_at")))
    if analysis.get("status"):
        found.append((f"Answer {analysis['status']}", topics.responses,
                      analysis.get("completed_at"), None))
    if confidence:
        found.append((f"Confidence {confidence['score']:.2f}", topics.responses,
                      confidence["scored_at"], None))
    for f in recorded.get("feedback") or []:
        found.append((f"Feedback: {f['rating']}", topics.feedback, f["given_at"], None))
    timed = [e for e in found if e[2] is not None]
    if not timed:
        return []
    origin = min(e[2] for e in timed if e[2] is not None)
    shown = []
    for label, topic, start, end in sorted(timed, key=lambda e: e[2]):  # type: ignore[arg-type,return-value]
        start_ms = _ms(start, origin) or 0.0
        end_ms = _ms(end, origin)
        shown.append({
            "label": label,
            "topic": topic.removeprefix(".").removesuffix(".v1"),
            "at": start,
            "start_ms": round(start_ms, 1),
            "end_ms": round(max(end_ms or 0.0, start_ms + INSTANT_MS), 1),
        })
    return shown


def chart_data(shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the client draws (JSON-safe): label and [start, end] in ms."""
    return [{"label": e["label"], "start": e["start_ms"], "end": e["end_ms"]} for e in shown]
