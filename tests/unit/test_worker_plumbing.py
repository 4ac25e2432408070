"""Pure parts of the shared worker plumbing: output ids, set-aside answers."""

from __future__ import annotations

from schemas.classified import QueryClassified
from schemas.parts import Answer, AttemptSummary, Confidence
from schemas.query import Escalation, QueryRequested
from services.classifier.handler import classify
from services.common.set_aside import recover_query
from services.common.worker import Outgoing, derived_outputs


def _outputs() -> list[Outgoing]:
    query = QueryRequested(query_id="q1", query="latest polls in Arizona")
    classified = classify(query)
    return [
        Outgoing("attempts", "gemini", classified),
        Outgoing("attempts", "local", classified),
        Outgoing("completions", "q1", classified),
    ]


def test_a_redelivered_step_publishes_the_same_event_ids() -> None:
    first = derived_outputs("input-1", _outputs())
    again = derived_outputs("input-1", _outputs())  # fresh events, random ids
    assert [o.event.event_id for o in first] == [o.event.event_id for o in again]
    assert len({o.event.event_id for o in first}) == 3  # distinct within one step
    other = derived_outputs("input-2", _outputs())
    assert not {o.event.event_id for o in first} & {o.event.event_id for o in other}


def test_the_nth_output_on_a_topic_keeps_its_id_whatever_else_is_published() -> None:
    """A redelivery that re-publishes only the stored completion (no attempt events)
    still gives the completion the id it had the first time."""
    full = derived_outputs("input-1", _outputs())
    only_completion = derived_outputs("input-1", _outputs()[2:])
    assert full[2].event.event_id == only_completion[0].event.event_id


def test_recovers_the_query_of_any_pipeline_message() -> None:
    query = QueryRequested(query_id="q7", query="draft a thank-you note", campaign_id="az")
    classified: QueryClassified = classify(query)
    assert recover_query(b"q7", query.to_bytes()) == ("q7", query)
    assert recover_query(b"q7", classified.to_bytes()) == ("q7", query)
    # Unreadable: the key still names the analysis to answer.
    assert recover_query(b"q8", b"\xff not json") == ("q8", None)
    assert recover_query(b"q9", b'{"query_id": "x"}') == ("q9", None)
    assert recover_query(None, b"[") == (None, None)
    assert recover_query(b"x" * 65, b"[") == (None, None)
    deep = b"[" * 100_000 + b"]" * 100_000
    assert recover_query(b"q10", deep) == ("q10", None)


def test_a_dead_lettered_escalated_query_is_answered_under_its_analysis_id() -> None:
    """The escalated query travels under a derived id; the caller waits on the analysis."""
    answer = Answer(
        provider="gemini", model="gemini-2.5-flash", text="a guess", input_tokens=5,
        output_tokens=3, cost_usd=0.0001, latency_ms=12.0,
    )
    escalation = Escalation(
        analysis_id="a1",
        reason="confidence 0.31 below 0.50",
        set_aside=AttemptSummary(provider="gemini", model="gemini-2.5-flash", outcome="success"),
        answer=answer,
        confidence=Confidence(score=0.31, components={}),
    )
    query = QueryRequested(query_id="a1~esc1", query="draft a note", escalation=escalation)
    classified = classify(query)
    assert recover_query(b"a1~esc1", classified.to_bytes()) == ("a1", classified.query)
