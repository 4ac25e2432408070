"""Circuit breakers as the console shows them: a board's snapshot, the dispatchers' boards
combined (the worst state, who holds it, silent instances dropped), the words shown."""

from __future__ import annotations

from services.common.circuit_states import STALE_AFTER_S, ModelCircuit, combine, encode
from services.dispatcher.circuits import CircuitBoard
from strategist.console.circuits_view import circuits_of, describe

PRO = "gemini/gemini-2.5-pro"
NOW = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_board_snapshot_says_closed_open_then_half_open_as_time_passes() -> None:
    clock = Clock()
    board = CircuitBoard(failures_to_open=2, open_interval_s=2.0, clock=clock)
    board.failed(PRO)
    assert board.snapshot() == {PRO: ("closed", 1)}
    board.failed(PRO)
    assert board.snapshot() == {PRO: ("open", 2)}
    clock.now = 2.5
    assert board.snapshot() == {PRO: ("half_open", 2)}
    board.succeeded(PRO)
    assert board.snapshot() == {}


def test_the_worst_state_of_the_live_dispatchers_is_shown_with_who_holds_it() -> None:
    boards = {
        "a": encode({PRO: ("open", 2)}, now=NOW),
        "b": encode({}, now=NOW - 1),
        "gone": encode({"gemini/gemini-2.5-flash": ("open", 5)}, now=NOW - STALE_AFTER_S - 1),
        "broken": "not json",
    }
    view = combine(boards, now=NOW)
    assert view.dispatchers == 2
    assert view.of("gemini", "gemini-2.5-pro") == ModelCircuit("open", 1, 2, 2)
    assert view.of("gemini", "gemini-2.5-flash") == ModelCircuit("closed", 2, 2, 0)
    assert combine({}, now=NOW).of("gemini", "gemini-2.5-pro") is None


def test_the_words_say_the_circuit_not_the_health() -> None:
    assert describe(None) == ("unknown", "no dispatcher reporting")
    assert describe(ModelCircuit("open", 1, 2, 2)) == (
        "open", "skipped, 2 failures in a row; 1 of 2 dispatchers")
    assert describe(ModelCircuit("half_open", 1, 1, 2))[0] == "half-open"
    provider = {"provider": "gemini", "models": [{"model": "gemini-2.5-pro"}]}
    view = combine({"a": encode({PRO: ("closed", 1)}, now=NOW)}, now=NOW)
    assert circuits_of(provider, view) == [
        {"model": "gemini-2.5-pro", "state": "closed", "detail": "called, 1 failure counted"}]
    assert circuits_of(provider, None)[0]["detail"] == "circuit states unreadable (Redis)"
