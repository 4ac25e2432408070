"""After a crash mid-answer, the redelivered query continues the text its earlier delivery
showed (services/dispatcher/delivered.py and the handler): never repeated, never missing."""

from __future__ import annotations

import asyncio
from datetime import datetime

from providers.catalogue import GEMINI_PRO
from schemas.delta import AnswerDelta
from services.dispatcher.delivered import Delivered, recover
from tests.unit.dispatcher_fakes import (
    Broker,
    MemoryLease,
    ScriptedProvider,
    completion_of,
    make_dispatcher,
)
from tests.unit.test_dispatcher_continuation import Scripted, _query, shown_to_a_live_reader


def _delta(part: str, attempt: int = 0, **fields) -> AnswerDelta:
    ids = {"attempt_id": f"q1:{attempt}", "attempt_number": attempt} if attempt else {}
    return AnswerDelta(analysis_id="q1", query_id="q1", part=part, **ids, **fields)


CRASHED = [
    _delta("routing"),
    _delta("started", 1, release="live"),
    _delta("text", 1, sequence=1, offset=0, text="The plan "),
    _delta("text", 1, sequence=2, offset=9, text="has "),
]  # the dispatcher was SIGKILLed here


def test_the_fold_finds_the_text_a_live_reader_was_shown() -> None:
    assert recover(CRASHED, "q1").delivered == Delivered("q1:1", "The plan has ")
    assert recover(CRASHED, "q1").attempts == 1 and recover(CRASHED, "q1").routed
    repeated = [*CRASHED, CRASHED[-1]]
    assert recover(repeated, "q1").delivered == Delivered("q1:1", "The plan has ")
    gap = [*CRASHED, _delta("text", 1, sequence=4, offset=40, text="lost")]
    assert recover(gap, "q1").delivered is None  # what the caller holds is unknown
    held = [_delta("started", 1, release="attempt"), *CRASHED[2:]]
    assert recover(held, "q1").delivered is None  # never shown
    assert recover(CRASHED, "another-round").delivered is None


def test_the_fold_follows_continuations_and_drops_text_a_fresh_answer_replaced() -> None:
    chain = [
        *CRASHED,
        _delta("failed", 1, sequence=3),
        _delta("started", 2, release="live", continues_attempt_id="q1:1"),
        _delta("text", 2, sequence=1, offset=13, text="three "),
    ]
    assert recover(chain, "q1").delivered == Delivered("q1:2", "The plan has three ")
    fresh = [*CRASHED, _delta("failed", 1, sequence=3), _delta("started", 2, release="live")]
    assert recover(fresh, "q1").delivered is None
    assert recover(fresh, "q1").attempts == 2


class History:
    def __init__(self, events: list[AnswerDelta]) -> None:
        self.events = events
        self.reads: list[str] = []

    async def read(self, analysis_id: str, since: datetime) -> list[AnswerDelta]:
        self.reads.append(analysis_id)
        return self.events


def _handle(lease: MemoryLease, history: History, gemini: Scripted):
    broker = Broker()
    dispatcher = make_dispatcher([gemini, ScriptedProvider("perplexity"),
                                  ScriptedProvider("local")], broker=broker, lease=lease,
                                 history=history)  # fmt: skip
    out = asyncio.run(dispatcher.handle(_query("live", model=GEMINI_PRO)))
    return completion_of(out), [o.event for o in broker.sent if isinstance(o.event, AnswerDelta)]


def test_a_redelivery_continues_the_shown_text_and_numbers_its_attempts_after() -> None:
    lease, history = MemoryLease(), History(CRASHED)
    lease.began.add("q1")  # the crashed delivery began it
    gemini = Scripted("gemini", [(["three phases."], None)])
    completion, deltas = _handle(lease, history, gemini)
    assert history.reads == ["q1"]
    assert gemini.calls[0].prefix == "The plan has "  # bought once, as input
    assert completion.answer is not None
    assert completion.answer.text == "The plan has three phases."
    [started] = [d for d in deltas if d.part == "started"]
    assert (started.attempt_id, started.continues_attempt_id) == ("q1:2", "q1:1")
    assert not any(d.part == "routing" for d in deltas)  # published once, by the first
    assert shown_to_a_live_reader([*CRASHED, *deltas]) == completion.answer.text


def test_a_first_delivery_never_reads_the_topic() -> None:
    history = History(CRASHED)
    gemini = Scripted("gemini", [(["Fresh."], None)])
    completion, _deltas = _handle(MemoryLease(), history, gemini)
    assert history.reads == [] and gemini.calls[0].prefix == ""
    assert completion.answer is not None and completion.answer.text == "Fresh."
