"""A window of analyses: which ones it holds, and one replay row each with totals.

An analysis belongs to the window when it entered the system inside it: its query
was published in [since, until], or, for answers from the direct path (which never
touch the queries topic), its answer was created inside it. The read itself starts
`SKEW` earlier and runs `SETTLE` later (never past now), so the events that follow
a query near the edge (its classification, attempts, answer, feedback) are found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audit.reader import Progress, WindowReader
from audit.trail import Trail, TrailBuilder, ms, tier_view
from schemas.base import utc_now
from schemas.topics import TopicNames

SKEW = timedelta(minutes=1)
"""Read this much before `since`: clocks of the app and the broker differ a little."""
SETTLE = timedelta(minutes=15)
"""Read this much after `until` for the events that follow a query (its answer, grades)."""


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.since <= moment <= self.until


def trail_topics(topics: TopicNames) -> list[str]:
    """The topics an analysis leaves events on, its trail (not the compacted health
    topic). The recorder writes its tables from another set
    (`services.recorder.worker.recorded_topics`)."""
    return [
        topics.queries,
        topics.classified,
        topics.completions,
        topics.provider_attempts,
        topics.responses,
        topics.feedback,
        topics.dead_letters,
    ]


def read_trails(
    reader: WindowReader,
    topics: TopicNames,
    window: Window,
    *,
    settle: timedelta = SETTLE,
    on_total: Any = None,
    progress: Progress | None = None,
) -> TrailBuilder:
    """Every trail with an event in the (widened) window; select with `in_window`."""
    read_until = min(window.until + settle, utc_now() + SKEW)
    records = reader.read(
        trail_topics(topics),
        ms(window.since - SKEW),
        ms(read_until),
        on_total=on_total,
        progress=progress,
    )
    return TrailBuilder(topics).add_all(records)


def in_window(builder: TrailBuilder, window: Window, campaign: str | None = None) -> list[Trail]:
    """The analyses that started in the window (and belong to `campaign`), oldest first."""
    chosen = [
        t
        for t in builder.trails.values()
        if window.holds(t.started_at) and (campaign is None or t.campaign_id == campaign)
    ]
    return sorted(chosen, key=lambda t: (t.started_at, t.analysis_id))


def _route(trail: Trail) -> str:
    steps = trail.classified.route if trail.classified else []
    if not steps and trail.response is not None:
        steps = trail.response.routing.route
    return " > ".join(f"{s.provider}/{s.model}" for s in steps) or "direct"


def replay_row(trail: Trail) -> dict[str, Any]:
    """One analysis as the replay shows it."""
    response = trail.response
    routing = response.routing if response else None
    tier = tier_view(trail.classification)
    probabilities = tier.get("tier_probabilities") or {}
    chosen = tier.get("tier")
    fallbacks = 0
    if routing is not None:
        fallbacks = len(routing.failed_attempts) + len(routing.skipped)
    ratings = Counter(f.rating for f in trail.feedback)
    return {
        "time": trail.started_at.isoformat() if trail.started_at else None,
        "analysis_id": trail.analysis_id,
        "campaign": trail.campaign_id,
        "tier": chosen,
        "tier_p": probabilities.get(chosen) if chosen else None,
        "route": _route(trail),
        "answered_by": (
            f"{routing.provider}/{routing.model}" if routing and routing.provider else None
        ),
        "status": response.status if response else "no response",
        "fallbacks": fallbacks,
        "cost_usd": routing.cost_usd if routing else None,
        "confidence": response.confidence.score if response and response.confidence else None,
        "feedback": ",".join(f"{n}x{r}" for r, n in sorted(ratings.items())) or None,
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the window adds up to."""
    scores = [r["confidence"] for r in rows if r["confidence"] is not None]
    statuses = Counter(r["status"] for r in rows)
    return {
        "analyses": len(rows),
        "completed": statuses.get("completed", 0),
        "failed": statuses.get("failed", 0),
        "no_response": statuses.get("no response", 0),
        "with_fallback": sum(1 for r in rows if r["fallbacks"]),
        "cost_usd": round(sum(r["cost_usd"] or 0.0 for r in rows), 6),
        "mean_confidence": round(sum(scores) / len(scores), 4) if scores else None,
        "graded": sum(1 for r in rows if r["feedback"]),
    }
