"""The text a caller reading live holds, and how to find it again on the deltas topic.

A live attempt's text is shown as it is published. When the attempt fails mid-answer, the
next model tried continues that text when it accepts a continuation (an assistant
prefill), so the caller reads one answer; a model that cannot continue answers afresh and
the caller is told to discard what it showed (`restart`). `Delivered` is that text and the
attempt that published its end.

After a crash (the dispatcher SIGKILLed mid-answer) the redelivered query rebuilds it from
the topic with `recover`: a pure fold over the query's events in partition order, by the
same rule the walk follows (route_walk.py):

- a `started` that continues the delivered text keeps it, and its `text` deltas extend it
  (their offsets count from the start of the whole answer);
- a `started` that does not continue it clears it (the caller will be told to restart);
- `text` deltas of a `live` attempt make its text the delivered one; deltas of a held-back
  attempt (`attempt`, `final`) were never shown;
- a delta whose offset is not where the text ends (a gap) makes the text unknown: nothing
  is continued, the answer starts again. A repeat (an offset already covered) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.delta import AnswerDelta


@dataclass(frozen=True)
class Delivered:
    """Text a caller reading live holds: `text`, whose end `attempt_id` published."""

    attempt_id: str
    text: str


@dataclass(frozen=True)
class Recovered:
    """What an earlier delivery of the query left on the topic."""

    delivered: Delivered | None
    """The text to continue (None: nothing live to continue)."""
    attempts: int
    """The highest attempt number seen: this delivery numbers its attempts after it, so no
    attempt id names two calls on the topic."""
    routed: bool = False
    """The earlier delivery published the walk's `routing` event: not published again."""


class _Fold:
    def __init__(self) -> None:
        self.delivered: Delivered | None = None
        self.attempts = 0
        self.texts: dict[str, str] = {}
        """attempt id -> the answer as that attempt published it (continued text included)."""
        self.live: set[str] = set()
        self.broken: set[str] = set()

    def started(self, event: AnswerDelta) -> None:
        continued = self.delivered
        if continued is not None and event.continues_attempt_id == continued.attempt_id:
            self.texts[event.attempt_id] = continued.text
        else:
            self.delivered = None
            self.texts[event.attempt_id] = ""
        if event.release == "live":
            self.live.add(event.attempt_id)

    def text(self, event: AnswerDelta) -> None:
        aid = event.attempt_id
        if aid not in self.texts or aid in self.broken:
            return
        shown = self.texts[aid]
        if event.offset + len(event.text) <= len(shown):
            return  # a repeat
        if event.offset != len(shown):
            self.broken.add(aid)  # a gap: what the caller holds is unknown
            if self.delivered is not None and self.delivered.attempt_id == aid:
                self.delivered = None
            return
        self.texts[aid] = shown + event.text
        if aid in self.live:
            self.delivered = Delivered(aid, self.texts[aid])


def recover(events: Iterable[AnswerDelta], query_id: str) -> Recovered:
    """The delivered text and attempt count of `query_id` from its events, in topic order
    (events of other queries of the analysis, e.g. another escalation round, are ignored)."""
    fold = _Fold()
    routed = False
    for event in events:
        if event.query_id != query_id:
            continue
        fold.attempts = max(fold.attempts, event.attempt_number)
        routed = routed or event.part == "routing"
        if event.part == "started":
            fold.started(event)
        elif event.part == "text":
            fold.text(event)
    return Recovered(fold.delivered, fold.attempts, routed)
