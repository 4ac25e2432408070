"""From an analysis's answer deltas and its final answer to the events a caller reads.

Pure: the same deltas in the same order (one partition of the answer-deltas topic) give
the same events with the same ids in every app process, which is what makes
`Last-Event-ID` resume exact. Positions up to `skip` are counted but not returned.

When an attempt's text is shown is the dispatcher's decision, on its `started` delta
(`release`, schemas/delta.py): `live` text is sent as it arrives; `attempt` text is held
and sent when the attempt `succeeded` (a failover before that stays invisible); `final`
text is never sent from the deltas: the final answer brings it at the end.

The rule that keeps a cut answer from ever looking complete: the text shown belongs to one
attempt, or to a chain of attempts each continuing the one before (`continues_attempt_id`:
the fallback was sent the delivered text as an assistant prefill). An attempt that
continues the one shown goes on from where it stopped, with no `restart`; its offsets drop
any repeat (attempt_text.py). When text of any other attempt is to be shown (a failover
that could not continue, an escalation round's answer), `restart` comes first and the
caller discards what it showed. At the end, when the answer is not exactly the text shown
(a held answer, a gap, an answer set aside earlier), the rest of it follows when the text
shown is its beginning, else `restart` and the whole answer as one `delta`; so `done`'s
text always equals the deltas after the last `restart`.
"""

from __future__ import annotations

from typing import Any

from schemas.delta import AnswerDelta
from strategist.streams.attempt_text import AttemptText
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
MAX_CHAIN = 64
"""Continuation links followed at most (a chain is as long as the route)."""


class Narrator:
    """Turns deltas (then the final answer) into numbered stream events."""

    def __init__(self, *, skip: int = 0) -> None:
        self._skip = skip
        self._count = 0
        self.shown = ""
        """The text the caller holds: the deltas after the last `restart`."""
        self._shown_attempt: str | None = None
        self._attempts: dict[str, AttemptText] = {}
        self._seen: set[str] = set()
        self.finished = False

    @property
    def sent(self) -> int:
        """Positions produced so far (returned or skipped)."""
        return self._count

    def caught_up(self, result: str) -> bool:
        """True when an attempt read to its `succeeded` holds exactly `result`: the deltas
        of the answer are all here (they precede the completion on the topic)."""
        return any(a.succeeded and a.text == result for a in self._attempts.values())

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
        events: list[StreamEvent] = []
        if delta.part == "started":
            self._start(delta)
        elif delta.part == "succeeded":
            attempt = self._attempt(delta.attempt_id)
            attempt.succeeded = True
            if attempt.release == "attempt":
                events += self._show(delta.attempt_id)
        attempt_data = AttemptData(
            attempt_id=delta.attempt_id,
            attempt_number=delta.attempt_number,
            provider=delta.provider,
            model=delta.model,
            status=delta.part,
            error_kind=delta.error_kind,
            error_message=delta.error_message,
            first_token_ms=delta.first_token_ms,
        )
        return events + self._out(ATTEMPT, attempt_data.model_dump(mode="json"))

    def _attempt(self, attempt_id: str) -> AttemptText:
        """The attempt's text (an attempt whose `started` was not read is a fresh live one)."""
        return self._attempts.setdefault(attempt_id, AttemptText())

    def _start(self, delta: AnswerDelta) -> None:
        if delta.attempt_id in self._attempts:  # read again (a redelivered query): keep it
            return
        continued = self._attempts.get(delta.continues_attempt_id)
        self._attempts[delta.attempt_id] = AttemptText(
            release=delta.release,
            continues=delta.continues_attempt_id,
            text=continued.text if continued is not None else "",
        )

    def _text(self, delta: AnswerDelta) -> list[StreamEvent]:
        attempt = self._attempt(delta.attempt_id)
        new = attempt.append(delta.offset, delta.text)
        if not new or attempt.release != "live":
            return []
        return self._show(delta.attempt_id)

    def _continues_shown(self, attempt_id: str) -> bool:
        """True when the attempt is the one shown, or continues it (through a chain)."""
        current = attempt_id
        for _ in range(MAX_CHAIN):
            if current == self._shown_attempt:
                return True
            attempt = self._attempts.get(current)
            if attempt is None or not attempt.continues:
                return False
            current = attempt.continues
        return False

    def _show(self, attempt_id: str) -> list[StreamEvent]:
        """Bring the caller's text up to the attempt's: the rest when it continues the text
        shown, else `restart` (when something was shown) and its whole text."""
        text = self._attempts[attempt_id].text
        follows = not self.shown or self._continues_shown(attempt_id)
        events = self._becomes(text, FAILOVER_RESTART, follows=follows)
        self._shown_attempt = attempt_id
        return events

    def _becomes(self, text: str, reason: str, *, follows: bool) -> list[StreamEvent]:
        """The events that make the caller's text `text`: the missing end when `follows`
        and the text shown is its beginning, else `restart` and all of it."""
        if text == self.shown:
            return []
        events: list[StreamEvent] = []
        if follows and text.startswith(self.shown):
            rest = text[len(self.shown) :]
        else:
            if self.shown:
                events += self._out(RESTART, RestartData(reason=reason).model_dump())
            rest = text
        self.shown = text
        if rest:
            events += self._out(DELTA, DeltaData(text=rest).model_dump())
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
        events = self._becomes(result, REPLACED_RESTART, follows=True)
        if confidence is not None:
            events += self._out(CONFIDENCE, confidence)
        return events + self._out(DONE, body)

    def give_up(self, body: dict[str, Any]) -> list[StreamEvent]:
        """An `error` ending the stream without an answer (its own deadline passed)."""
        if self.finished:
            return []
        self.finished = True
        return self._out(ERROR, body)
