"""The strategist event stream's logic: event names and ids, restart, resume, SSE lines."""

from __future__ import annotations

import json

import pytest

from schemas.delta import AnswerDelta
from schemas.parts import RouteStep
from strategist.streams.events import BadLastEventId, StreamEvent, last_event_id
from strategist.streams.narrator import Narrator

ROUTE = [RouteStep(provider="gemini", model="gemini-2.5-pro", reason="complex")]


def _delta(part: str, number: int = 0, text: str = "", seq: int = 0, offset: int = 0,
           **extra: object) -> AnswerDelta:
    return AnswerDelta(
        analysis_id="a1", query_id="a1", part=part,  # type: ignore[arg-type]
        attempt_id=f"a1:{number}" if number else "", attempt_number=number,
        provider="gemini" if number == 1 else "perplexity", model="m",
        sequence=seq, offset=offset, text=text, route=ROUTE if part == "routing" else [],
        **extra,  # type: ignore[arg-type]
    )


FAILOVER = [
    _delta("routing"),
    _delta("started", 1),
    _delta("text", 1, "Half ", 1, 0),
    _delta("text", 1, "an ", 2, 5),
    _delta("failed", 1, seq=3, offset=8, error_kind="stream_truncated"),
    _delta("started", 2),
    _delta("text", 2, "Whole ", 1, 0),
    _delta("text", 2, "answer.", 2, 6),
    _delta("succeeded", 2, seq=3, offset=13),
]
BODY = {"analysis_id": "a1", "status": "completed", "result": "Whole answer."}


def _play(narrator: Narrator, deltas: list[AnswerDelta], result: str = "Whole answer."
          ) -> list[StreamEvent]:
    events = [e for d in deltas for e in narrator.feed(d)]
    return events + narrator.finish(completed=True, result=result,
                                    confidence={"score": 0.8}, body=BODY)


def _text_after_last_restart(events: list[StreamEvent]) -> str:
    text = ""
    for event in events:
        if event.name == "restart":
            text = ""
        elif event.name == "delta":
            text += event.data["text"]
    return text


def test_a_failover_after_text_was_shown_restarts_and_done_equals_the_deltas() -> None:
    events = _play(Narrator(), FAILOVER)
    names = [e.name for e in events]
    assert names == ["routing", "attempt", "delta", "delta", "attempt", "attempt", "restart",
                     "delta", "delta", "attempt", "confidence", "done"]
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[4].data["status"] == "failed" and events[4].data["error_kind"] == (
        "stream_truncated")
    assert events[-1].data == BODY
    assert _text_after_last_restart(events) == BODY["result"]


def test_resume_from_any_id_gives_the_rest_with_nothing_lost_or_twice() -> None:
    whole = _play(Narrator(), FAILOVER)
    for last in range(len(whole) + 1):
        rest = _play(Narrator(skip=last), FAILOVER)
        assert [(e.id, e.name, e.data) for e in rest] == [
            (e.id, e.name, e.data) for e in whole[last:]]


def test_a_delta_read_twice_is_shown_once() -> None:
    events = _play(Narrator(), FAILOVER[:4] + FAILOVER[2:])
    assert [e.data["text"] for e in events if e.name == "delta"] == [
        "Half ", "an ", "Whole ", "answer."]


def test_an_answer_that_is_not_the_text_shown_replaces_it_before_done() -> None:
    """A missing delta, or an answer set aside earlier: never done with other text."""
    events = _play(Narrator(), FAILOVER[:8], result="Another answer entirely.")
    tail = [(e.name, e.data) for e in events[-4:]]
    assert tail[0][0] == "restart" and tail[1] == ("delta", {"text": "Another answer entirely."})
    assert _text_after_last_restart(events) == "Another answer entirely."


def test_a_failed_analysis_ends_with_error_and_nothing_after() -> None:
    narrator = Narrator()
    [e for d in FAILOVER[:5] for e in narrator.feed(d)]
    [last] = narrator.finish(completed=False, result="", confidence=None, body={"error": "x"})
    assert last.name == "error" and narrator.feed(FAILOVER[5]) == []


def test_sse_lines_follow_the_whatwg_format() -> None:
    text = StreamEvent(7, "delta", {"text": "a\nb é"}).encode()
    assert text == 'id: 7\nevent: delta\ndata: {"text":"a\\nb é"}\n\n'
    assert json.loads(text.split("data: ")[1]) == {"text": "a\nb é"}


@pytest.mark.parametrize("header, expected", [(None, 0), ("", 0), (" 12 ", 12), ("0", 0)])
def test_last_event_id_is_a_position(header: str | None, expected: int) -> None:
    assert last_event_id(header) == expected


@pytest.mark.parametrize("header", ["-1", "abc", "1.5", "9" * 20])
def test_a_foreign_last_event_id_is_refused(header: str) -> None:
    with pytest.raises(BadLastEventId):
        last_event_id(header)
