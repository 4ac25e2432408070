"""What streaming adds to each piece of an answer, from the events' own timestamps.

Every text delta on the answer-deltas topic carries `occurred_at`: when the dispatcher
read its (first) piece from the provider. A caller reading the event stream notes when
each `delta` arrives. Matched by character position (a caller's delta covers the
dispatcher's deltas whose `offset` falls inside it), the difference is what the pipeline
added between the provider's bytes and the caller's: the app's follower of the topic,
the narrator, the server's write, and the broker in between. The first delta's figure is
the added time to first token; the later ones' the added gap. Only answers released
`live` count there: an answer held back by design (released `attempt` or `final`, such as
a Flash or local answer the scorer may replace) reaches the caller whole, after its
attempt or its scoring, and its first delta's wait is counted apart (`held_first_ms`).

The provider's own "first over total" comes from the same events: from the answering
attempt's `started` to its first text, over `started` to `succeeded`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from harness.event_stream import StreamRead
from schemas.delta import AnswerDelta


def deltas_by_analysis(raw: Iterable[bytes]) -> dict[str, list[AnswerDelta]]:
    """The topic's events by analysis id, in topic order (an analysis has one partition)."""
    grouped: dict[str, list[AnswerDelta]] = defaultdict(list)
    for value in raw:
        try:
            delta = AnswerDelta.from_bytes(value)
        except ValidationError:
            continue
        grouped[delta.analysis_id].append(delta)
    return grouped


def answer_texts(events: list[AnswerDelta]) -> list[AnswerDelta]:
    """The text deltas of the answer: the last succeeded attempt's, after those of the
    attempts it continues (their text before its first offset); [] when none succeeded."""
    by_attempt: dict[str, list[AnswerDelta]] = defaultdict(list)
    started: dict[str, AnswerDelta] = {}
    answering = None
    for event in events:
        if event.part == "text":
            by_attempt[event.attempt_id].append(event)
        elif event.part == "started":
            started[event.attempt_id] = event
        elif event.part == "succeeded":
            answering = event.attempt_id
    chain: list[AnswerDelta] = []
    while answering:
        own = sorted(by_attempt.get(answering, []), key=lambda d: d.sequence)
        begins = own[0].offset if own else None
        chain = own + chain
        answering = started[answering].continues_attempt_id if answering in started else ""
        if answering and begins is not None:
            by_attempt[answering] = [d for d in by_attempt[answering] if d.offset < begins]
    return chain


def provider_first_over_total(events: list[AnswerDelta]) -> float | None:
    """The answering attempt's time to its first text over its whole time, at the
    dispatcher (the provider's own ratio); None when it cannot be told."""
    texts = answer_texts(events)
    if not texts:
        return None
    attempt = texts[-1].attempt_id
    mine = {e.part: e for e in events if e.attempt_id == attempt and e.part != "text"}
    first = min((d for d in events if d.attempt_id == attempt and d.part == "text"),
                key=lambda d: d.sequence)  # fmt: skip
    if "started" not in mine or "succeeded" not in mine:
        return None
    began = mine["started"].occurred_at
    total = (mine["succeeded"].occurred_at - began).total_seconds()
    return (first.occurred_at - began).total_seconds() / total if total > 0 else None


@dataclass
class AddedDelays:
    """Milliseconds added per delta, and what could not be matched."""

    first_ms: list[float] = field(default_factory=list)
    later_ms: list[float] = field(default_factory=list)
    held_first_ms: list[float] = field(default_factory=list)
    """Answers held back by the release rule: provider's first piece to the caller's text."""
    text_events: list[int] = field(default_factory=list)
    """Per answer: the dispatcher's text delta events (after coalescing)."""
    unmatched: int = 0
    """Streams whose shown text is not the answer's deltas (or without a `done`)."""


def added_delays(reads: Iterable[StreamRead], topic: dict[str, list[AnswerDelta]]) -> AddedDelays:
    """Each completed stream's deltas set against the dispatcher's (see the module)."""
    delays = AddedDelays()
    for read in reads:
        texts = answer_texts(topic.get(read.analysis_id or "", []))
        if read.final != "done" or not texts or "".join(d.text for d in texts) != read.shown:
            delays.unmatched += 1
            continue
        delays.text_events.append(len(texts))
        live = _release_of(topic[read.analysis_id or ""], texts[0].attempt_id) == "live"
        position = 0
        for index, shown in enumerate(read.shown_deltas):
            end = position + len(shown.data["text"])
            inside = [d.occurred_at.timestamp() for d in texts if position <= d.offset < end]
            position = end
            if inside:
                added = (shown.at - min(inside)) * 1000.0
                if not live:
                    if not index:
                        delays.held_first_ms.append(added)
                    continue
                (delays.later_ms if index else delays.first_ms).append(added)
    return delays


def _release_of(events: list[AnswerDelta], attempt_id: str) -> str | None:
    """The release the dispatcher gave `attempt_id` on its `started` event."""
    return next(
        (e.release for e in events if e.part == "started" and e.attempt_id == attempt_id), None
    )
