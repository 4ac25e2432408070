"""The narrator honours each attempt's `release` and continues a cut answer without a
restart: `live` text as it comes, `attempt` text when the attempt succeeded, `final` text
with the answer; a continuation's offsets drop repeats and stop at a gap. On every path
`done`'s text equals the deltas after the last `restart`, and resume from any id is exact."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.delta import AnswerDelta, Release
from strategist.streams.attempt_text import AttemptText
from strategist.streams.events import StreamEvent
from strategist.streams.narrator import Narrator
from tests.unit.strategist.test_stream_narrator import _delta

WHOLE = "Half an answer, then the rest."


def _play(deltas: list[AnswerDelta], result: str = WHOLE, skip: int = 0) -> list[StreamEvent]:
    narrator = Narrator(skip=skip)
    events = [e for d in deltas for e in narrator.feed(d)]
    body = {"analysis_id": "a1", "status": "completed", "result": result}
    return events + narrator.finish(completed=True, result=result, confidence=None, body=body)


def _names(events: list[StreamEvent]) -> list[str]:
    return [e.name if e.name != "attempt" else e.data["status"] for e in events]


def _client_text(events: list[StreamEvent]) -> str:
    """What a client shows at the end: the deltas after the last restart."""
    text = ""
    for event in events:
        text = "" if event.name == "restart" else text + event.data.get("text", "") * (
            event.name == "delta")
    return text


def _attempt(number: int, pieces: list[str], *, release: Release = "live", ends: str = "",
             continues: int = 0, start: int = 0) -> list[AnswerDelta]:  # fmt: skip
    """An attempt's deltas: started (with its release), its text from offset `start`,
    then `ends` (succeeded/failed) if given."""
    extra: dict[str, Any] = {"release": release}
    if continues:
        extra["continues_attempt_id"] = f"a1:{continues}"
    out = [_delta("started", number, **extra)]
    offset = start
    for seq, piece in enumerate(pieces, start=1):
        out.append(_delta("text", number, piece, seq, offset))
        offset += len(piece)
    if ends:
        out.append(_delta(ends, number, seq=len(pieces) + 1, offset=offset))
    return out


def _check_invariants(deltas: list[AnswerDelta], result: str = WHOLE) -> list[StreamEvent]:
    events = _play(deltas, result)
    assert events[-1].name == "done" and _client_text(events) == result
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    for last in range(len(events) + 1):
        rest = _play(deltas, result, skip=last)
        assert [(e.id, e.name, e.data) for e in rest] == [
            (e.id, e.name, e.data) for e in events[last:]]
    return events


def test_live_text_is_sent_as_it_arrives() -> None:
    deltas = _attempt(1, ["Half an answer, ", "then the rest."], ends="succeeded")
    events = _check_invariants(deltas)
    assert _names(events) == ["started", "delta", "delta", "succeeded", "done"]


def test_attempt_text_is_held_until_it_succeeded_and_a_failover_before_stays_invisible() -> None:
    narrator = Narrator()
    cut = _attempt(1, ["Half an "], release="attempt", ends="failed")
    assert [e.name for d in cut for e in narrator.feed(d)] == ["attempt", "attempt"]
    whole = _attempt(2, ["Half an answer, ", "then the rest."], release="attempt")
    assert [e.name for d in whole for e in narrator.feed(d)] == ["attempt"]  # held
    events = _check_invariants(cut + whole + [_delta("succeeded", 2, seq=3, offset=30)])
    assert _names(events) == ["started", "failed", "started", "delta", "succeeded", "done"]
    assert events[3].data == {"text": WHOLE}


def test_final_text_comes_only_with_the_answer() -> None:
    deltas = _attempt(1, ["Half an answer, ", "then the rest."], release="final",
                      ends="succeeded")  # fmt: skip
    narrator = Narrator()
    assert "delta" not in [e.name for d in deltas for e in narrator.feed(d)]
    assert narrator.caught_up(WHOLE) and not narrator.caught_up("other")
    events = _check_invariants(deltas)
    assert _names(events) == ["started", "succeeded", "delta", "done"]


def test_an_escalated_final_answer_replaces_a_shown_one_with_a_restart() -> None:
    shown = _attempt(1, ["A first answer."], ends="succeeded")
    escalated = [_delta("routing", escalation_round=1)] + _attempt(
        2, ["Half an answer, ", "then the rest."], release="final", ends="succeeded")
    events = _check_invariants(shown + escalated)
    assert _names(events)[-3:] == ["restart", "delta", "done"]


def test_a_continuation_of_the_attempt_shown_goes_on_without_a_restart() -> None:
    cut = _attempt(1, ["Half ", "an "], ends="failed")
    going_on = _attempt(2, ["answer, ", "then the rest."], continues=1, start=8,
                        ends="succeeded")  # fmt: skip
    events = _check_invariants(cut + going_on)
    assert "restart" not in _names(events)
    assert [e.data["text"] for e in events if e.name == "delta"] == [
        "Half ", "an ", "answer, ", "then the rest."]


def test_a_held_continuation_sends_the_rest_when_it_succeeded() -> None:
    cut = _attempt(1, ["Half an "], ends="failed")
    going_on = _attempt(2, ["answer, then the rest."], continues=1, start=8, release="attempt",
                        ends="succeeded")  # fmt: skip
    events = _check_invariants(cut + going_on)
    assert [e.data["text"] for e in events if e.name == "delta"] == [
        "Half an ", "answer, then the rest."]


def test_a_continuation_of_an_attempt_never_shown_sends_the_whole_answer() -> None:
    held = _attempt(1, ["Half an "], release="attempt", ends="failed")
    going_on = _attempt(2, ["answer, then the rest."], continues=1, start=8, release="attempt",
                        ends="succeeded")  # fmt: skip
    events = _check_invariants(held + going_on)
    assert [e.data["text"] for e in events if e.name == "delta"] == [WHOLE]


def test_a_fresh_fallback_after_shown_text_restarts() -> None:
    cut = _attempt(1, ["Half "], ends="failed")
    fresh = _attempt(2, ["Half an answer, then the rest."], ends="succeeded")
    events = _check_invariants(cut + fresh)
    assert _names(events).count("restart") == 1


def test_a_repeat_in_a_continuation_is_dropped() -> None:
    cut = _attempt(1, ["Half ", "an "], ends="failed")
    repeating = [_delta("started", 2, continues_attempt_id="a1:1"),
                 _delta("text", 2, "an answer, ", 1, 5),  # "an " was read already
                 _delta("text", 2, "then the rest.", 2, 16),
                 _delta("succeeded", 2, seq=3, offset=30)]
    events = _check_invariants(cut + repeating)
    assert "restart" not in _names(events)
    assert [e.data["text"] for e in events if e.name == "delta"] == [
        "Half ", "an ", "answer, ", "then the rest."]


def test_a_gap_stops_the_text_and_the_answer_mends_it_at_the_end() -> None:
    cut = _attempt(1, ["Half ", "an "], ends="failed")
    gapped = [_delta("started", 2, continues_attempt_id="a1:1"),
              _delta("text", 2, "then the rest.", 2, 16),  # "answer, " never read
              _delta("succeeded", 2, seq=3, offset=30)]
    events = _check_invariants(cut + gapped)
    deltas = [e.data["text"] for e in events if e.name == "delta"]
    assert deltas == ["Half ", "an ", "answer, then the rest."]  # the rest, no restart


def test_an_answer_that_is_not_the_text_shown_restarts_before_done() -> None:
    shown = _attempt(1, ["Half "], ends="succeeded")
    events = _check_invariants(shown, result="Something else.")
    assert _names(events)[-3:] == ["restart", "delta", "done"]


@pytest.mark.parametrize(
    "pieces, expected, broken",
    [
        ([(0, "ab"), (2, "cd")], "abcd", False),
        ([(0, "ab"), (0, "ab"), (2, "c")], "abc", False),  # the same delta again
        ([(0, "ab"), (1, "bcd")], "abcd", False),  # overlap of the same text
        ([(0, "ab"), (3, "d"), (2, "c")], "ab", True),  # a gap: nothing more is trusted
        ([(0, "ab"), (1, "xc")], "ab", True),  # a repeat that differs
    ],
)
def test_offsets_tell_a_repeat_from_a_gap(
    pieces: list[tuple[int, str]], expected: str, broken: bool
) -> None:
    text = AttemptText()
    for offset, piece in pieces:
        text.append(offset, piece)
    assert (text.text, text.broken) == (expected, broken)
