"""What streaming adds per delta, from the events' own timestamps (bench/delta_timing.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.delta_timing import added_delays, answer_texts, provider_first_over_total
from harness.event_stream import StreamEvent, StreamRead
from schemas.delta import AnswerDelta

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _delta(part: str, ms: float, attempt: str = "a1", text: str = "", offset: int = 0,
           sequence: int = 0, continues: str = "") -> AnswerDelta:  # fmt: skip
    return AnswerDelta(analysis_id="x", query_id="x", part=part, attempt_id=attempt,  # type: ignore[arg-type]
                       text=text, offset=offset, sequence=sequence, continues_attempt_id=continues,
                       occurred_at=T0 + timedelta(milliseconds=ms))  # fmt: skip


def _read(pieces: list[tuple[str, float]], result: str) -> StreamRead:
    """A caller's stream: its deltas (text, ms after T0 received), then `done`."""
    at = T0.timestamp()
    events = [StreamEvent(1, "routing", {"analysis_id": "x"}, at)]
    events += [StreamEvent(i + 2, "delta", {"text": t}, at + ms / 1000) for i, (t, ms) in
               enumerate(pieces)]  # fmt: skip
    events.append(StreamEvent(len(events) + 1, "done", {"analysis_id": "x", "result": result}, at))
    return StreamRead(events=events, status=200)


TOPIC = [
    _delta("started", 0),
    _delta("text", 600, text="The ", offset=0, sequence=1),
    _delta("text", 640, text="plan ", offset=4, sequence=2),
    _delta("text", 680, text="works.", offset=9, sequence=3),
    _delta("succeeded", 1000, sequence=4),
]


def test_each_caller_delta_is_set_against_the_earliest_dispatcher_delta_inside_it() -> None:
    # the app merged the last two pieces into one event, received at 700 ms
    read = _read([("The ", 605), ("plan works.", 700)], "The plan works.")
    delays = added_delays([read], {"x": TOPIC})
    assert [round(d) for d in delays.first_ms] == [5]
    assert [round(d) for d in delays.later_ms] == [60]  # from "plan " at 640, not 680
    assert delays.text_events == [3] and delays.unmatched == 0


def test_a_stream_whose_text_is_not_the_answer_is_not_measured() -> None:
    delays = added_delays([_read([("The plan", 700)], "The plan works.")], {"x": TOPIC})
    assert delays.first_ms == [] and delays.unmatched == 1


def test_the_providers_ratio_is_its_first_text_over_its_whole_time() -> None:
    assert provider_first_over_total(TOPIC) == 0.6


def test_a_continued_answer_joins_the_delivered_text_of_the_attempt_it_continues() -> None:
    cut = [_delta("started", 0), _delta("text", 10, text="The ", sequence=1),
           _delta("text", 20, text="pl", offset=4, sequence=2), _delta("failed", 30, sequence=3)]
    fallback = [_delta("started", 40, "a2", continues="a1"),
                _delta("text", 50, "a2", text="plan works.", offset=4, sequence=1),
                _delta("succeeded", 60, "a2", sequence=2)]  # fmt: skip
    assert "".join(d.text for d in answer_texts(cut + fallback)) == "The plan works."


def test_an_answer_held_back_until_scored_is_counted_apart_from_what_streaming_adds() -> None:
    held = [TOPIC[0].model_copy(update={"release": "final"}), *TOPIC[1:]]
    read = _read([("The plan works.", 1250)], "The plan works.")  # whole, after scoring
    delays = added_delays([read], {"x": held})
    assert delays.first_ms == [] and delays.later_ms == []
    assert [round(d) for d in delays.held_first_ms] == [650]
