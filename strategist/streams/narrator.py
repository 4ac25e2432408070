"""From an analysis's answer deltas and its final answer to the events a caller reads.

Pure: the same deltas in the same order (one partition of the answer-deltas topic) give
the same events with the same ids in every app process, which is what makes
`Last-Event-ID` resume exact. Positions up to `skip` are counted but not returned.

The rule that keeps a cut answer from ever looking complete: text shown to the caller
belongs to one attempt. When text of another attempt begins (a failover after the first
one showed text, or an escalation round's answer), `restart` comes first and the caller
discards what it showed. At the end, when the answer is not exactly the text shown
(a delta went missing, or the answer is one set aside earlier), `restart` and the whole
answer as one `delta` come before `done`, so `done`'s text always equals the deltas after
the last `restart`.
"""

from __future__ import annotations

from typing import Any

from schemas.delta import AnswerDelta
from strategist.streams.events import (
    ATTEMPT,
    CONFIDENCE,
    DELTA,
    DONE,
    ERROR,
    RESTART,
    ROUTING,
    AttemptData,
    DeltaData,
    RestartData,
    RoutingData,
    StreamEvent,
)

FAILOVER_RESTART = "the attempt that showed this text failed; the next one answers"
REPLACED_RESTART = "the answer shown is replaced by the final one"


class Narrator:
    """Turns deltas (then the final answer) into numbered stream events."""

    def __init__(self, *, skip: int = 0) -> None:
        self._skip = skip
        self._count = 0
        self.shown = ""
        self._shown_attempt: str | None = None
        self._seen: set[str] = set()
        self.finished = False

    @property
    def sent(self) -> int:
        """Positions produced so far (returned or skipped)."""
        return self._count

    def _out(self, name: str, data: dict[str, Any]) -> list[StreamEvent]:
        self._count += 1
        if self._count <= self._skip:
            return []
        return [StreamEvent(self._count, name, data)]

    def feed(self, delta: AnswerDelta) -> list[StreamEvent]:
        """The events one delta adds; a delta seen before (by event id) adds none."""
        if self.finished or delta.event_id in self._seen:
            return []
        self._seen.add(delta.event_id)
        if delta.part == "routing":
            data = RoutingData(
                analysis_id=delta.analysis_id,
                classification=(
                    delta.classification.model_dump(mode="json") if delta.classification else None
                ),
                route=[step.model_dump(mode="json") for step in delta.route],
                escalation_round=delta.escalation_round,
            )
            return self._out(ROUTING, data.model_dump(mode="json"))
        if delta.part == "text":
            return self._text(delta)
        status = delta.part
        attempt = AttemptData(
            attempt_id=delta.attempt_id,
            attempt_number=delta.attempt_number,
            provider=delta.provider,
            model=delta.model,
            status=status,
            error_kind=delta.error_kind,
            error_message=delta.error_message,
            first_token_ms=delta.first_token_ms,
        )
        return self._out(ATTEMPT, attempt.model_dump(mode="json"))

    def _text(self, delta: AnswerDelta) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if delta.attempt_id != self._shown_attempt:
            if self.shown:
                events += self._out(RESTART, RestartData(reason=FAILOVER_RESTART).model_dump())
            self.shown = ""
            self._shown_attempt = delta.attempt_id
        self.shown += delta.text
        events += self._out(DELTA, DeltaData(text=delta.text).model_dump())
        return events

    def finish(
        self, *, completed: bool, result: str, confidence: dict[str, Any] | None,
        body: dict[str, Any],
    ) -> list[StreamEvent]:  # fmt: skip
        """The last events: for a completed answer, its text made whole, its confidence,
        then `done` with `body`; otherwise `error` with `body`."""
        if self.finished:
            return []
        self.finished = True
        if not completed:
            return self._out(ERROR, body)
        events: list[StreamEvent] = []
        if result != self.shown:
            if self.shown:
                events += self._out(RESTART, RestartData(reason=REPLACED_RESTART).model_dump())
            self.shown = result
            if result:
                events += self._out(DELTA, DeltaData(text=result).model_dump())
        if confidence is not None:
            events += self._out(CONFIDENCE, confidence)
        return events + self._out(DONE, body)

    def give_up(self, body: dict[str, Any]) -> list[StreamEvent]:
        """An `error` ending the stream without an answer (its own deadline passed)."""
        if self.finished:
            return []
        self.finished = True
        return self._out(ERROR, body)
