"""Gaps in a window: what was recorded halfway.

- a query with no response (older than `grace`: younger ones may still be running);
- a response from the pipeline with no query (the query's record is missing);
- an attempt billed but not used: a `success` that is not the one whose answer the
  completion carries, or a `started` with no outcome (the dispatcher died during the
  call: it may have been paid);
- a dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audit.trail import Trail, TrailBuilder, from_ms
from audit.window import Window

DEFAULT_GRACE = timedelta(minutes=2)
"""A query younger than this with no answer is in flight, not missing."""

NO_RESPONSE = "query without response"
NO_QUERY = "response without query"
UNUSED_ATTEMPT = "attempt billed but not used"
UNFINISHED_ATTEMPT = "attempt started, outcome never recorded"
DEAD_LETTER = "dead letter"


@dataclass(frozen=True)
class Finding:
    kind: str
    analysis_id: str | None
    at: datetime | None
    detail: str

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "analysis_id": self.analysis_id,
            "time": self.at.isoformat() if self.at else None,
            "detail": self.detail,
        }


def _attempt_findings(trail: Trail) -> list[Finding]:
    used_ids = trail.used_attempt_ids
    used = trail.used_attempt_id
    finished = {a.attempt_id for a in trail.attempts if a.outcome != "started"}
    findings = []
    billed_ids: set[str] = set()
    for attempt in sorted(trail.attempts, key=lambda a: (a.attempt_number, a.occurred_at)):
        where = f"{attempt.attempt_id} {attempt.provider}/{attempt.model}"
        if attempt.outcome == "started" and attempt.attempt_id not in finished:
            findings.append(
                Finding(UNFINISHED_ATTEMPT, trail.analysis_id, attempt.occurred_at, where)
            )
        if attempt.outcome != "success":
            continue
        if attempt.attempt_id not in used_ids or attempt.attempt_id in billed_ids:
            why = (
                "a second success for this attempt"
                if attempt.attempt_id in billed_ids
                else (
                    "the completion used no answer"
                    if used is None
                    else f"the completion used {used}"
                )
            )
            findings.append(
                Finding(
                    UNUSED_ATTEMPT,
                    trail.analysis_id,
                    attempt.occurred_at,
                    f"{where} ${attempt.cost_usd:.6f}: {why}",
                )
            )
        billed_ids.add(attempt.attempt_id)
    return findings


def find_gaps(
    builder: TrailBuilder, window: Window, *, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> list[Finding]:
    """Every gap of the analyses that started in the window, and its dead letters."""
    findings: list[Finding] = []
    for trail in sorted(builder.trails.values(), key=lambda t: t.analysis_id):
        started = trail.started_at
        if not window.holds(started):
            continue
        response = trail.response
        missing = trail.query is not None and response is None and started is not None
        if missing and started is not None and now - started >= grace:
            assert trail.query is not None
            findings.append(
                Finding(NO_RESPONSE, trail.analysis_id, started, trail.query.query[:80])
            )
        if response is not None and trail.query is None and response.routing.path != "direct":
            findings.append(
                Finding(NO_QUERY, trail.analysis_id, response.created_at, response.status)
            )
        findings.extend(_attempt_findings(trail))
        for letter in trail.dead_letters:
            findings.append(_letter_finding(letter, trail.analysis_id))
    for letter in builder.unattributed_dead_letters:
        if letter.timestamp_ms is None or window.holds(from_ms(letter.timestamp_ms)):
            findings.append(_letter_finding(letter, None))
    return findings


def _letter_finding(letter: Any, analysis_id: str | None) -> Finding:
    return Finding(
        DEAD_LETTER,
        analysis_id,
        letter.occurred_at,
        f"{letter.service} {letter.source_topic}[{letter.partition}]@{letter.offset}: "
        f"{letter.error_type}: {letter.error_message[:120]}",
    )
