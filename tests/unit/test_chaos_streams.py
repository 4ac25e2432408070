"""A chaos run's streaming callers sorted by what they saw (chaos/streams.py)."""

from __future__ import annotations

from chaos.streams import ChatCaller, StreamCaller, chat_tally, complete_answers, tally
from harness.event_stream import StreamEvent, StreamRead

Q = "latest polls in Arizona this week"
ANSWER = "Polls show a close race."


def _caller(*events: tuple[str, object], connections: int = 1) -> StreamCaller:
    read = StreamRead(events=[StreamEvent(i + 1, n, d, 0.0) for i, (n, d) in enumerate(events)])
    return StreamCaller(Q, 0.0, "x", read, connections)


def _done(result: str) -> tuple[str, object]:
    return "done", {"status": "completed", "result": result, "routing": {"model": "sonar"}}


def test_each_way_a_stream_can_end_is_counted_apart() -> None:
    callers = [
        _caller(("delta", {"text": "Polls show "}), ("delta", {"text": "a close race."}),
                _done(ANSWER), connections=2),
        _caller(("delta", {"text": "Old"}), ("restart", {"reason": "x"}),
                ("delta", {"text": ANSWER}), _done(ANSWER)),
        _caller(("delta", {"text": "Polls"}), ("error", {"error": {"code": "x", "message": "y"}})),
        _caller(("delta", {"text": "Polls show Polls show a close race."}), _done(ANSWER)),
        _caller(("delta", {"text": "Polls show"}), _done("Polls show")),
        _caller(("delta", {"text": "Polls show"})),
    ]  # fmt: skip
    complete = complete_answers([(Q, "sonar", ANSWER)] * 3 + [(Q, "sonar", "Polls show")])
    counts = tally(callers, complete)
    assert counts.as_dict() == {
        "streams": 6, "completed_seamlessly": 1, "completed_after_restart": 1,
        "clean_errors": 1, "reconnected": 1, "truncated_successes": 1,
        "repeated_or_missing_text": 1, "hanging": 1,
    }  # fmt: skip
    assert not counts.clean


def test_a_v1_stream_is_judged_against_its_analysis_s_json_answer() -> None:
    callers = [
        ChatCaller(Q, 0.0, ANSWER, "done", ANSWER),
        ChatCaller(Q, 0.0, "Polls show", "done", ANSWER),
        ChatCaller(Q, 0.0, ANSWER + ANSWER, "done", ANSWER),
        ChatCaller(Q, 0.0, "Polls", "error"),
        ChatCaller(Q, 0.0, "Polls", "connection_lost"),
        ChatCaller(Q, 0.0, "Polls", "hanging"),
    ]
    counts = chat_tally(callers)
    assert (counts.completed, counts.truncated_successes, counts.repeated_or_missing_text,
            counts.clean_errors, counts.connection_lost, counts.hanging) == (1, 1, 1, 1, 1, 1)
    assert not counts.clean and chat_tally(callers[:1] + callers[3:5]).clean
