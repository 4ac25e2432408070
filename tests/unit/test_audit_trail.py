"""Trails, replay rows, gaps and what-if estimates from records, without a broker."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from audit.reader import Record
from audit.show import render, trail_document
from audit.trail import TrailBuilder, ms
from audit.verify import DEAD_LETTER, NO_QUERY, NO_RESPONSE, UNUSED_ATTEMPT, find_gaps
from audit.whatif import Policy, policy_decider, what_if
from audit.window import Window, in_window, replay_row, totals
from core.response import build_response
from providers.catalogue import DEFAULT_CATALOGUE
from schemas.attempt import ProviderAttempt, attempt_id_for
from schemas.base import EventModel
from schemas.completion import CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.feedback import FeedbackGiven
from schemas.parts import Answer, AttemptSummary, Confidence
from schemas.query import Escalation, QueryRequested
from schemas.topics import TopicNames
from services.classifier.handler import classify

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
TOPICS = TopicNames("unit")


class Log:
    """Records on topics, in the order they were appended."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def put(self, topic: str, key: str, event: EventModel, at: datetime) -> None:
        self.records.append(
            Record(topic, 0, len(self.records), ms(at), key.encode(), event.to_bytes())
        )

    def build(self) -> TrailBuilder:
        return TrailBuilder(TOPICS).add_all(self.records)


def _answer(provider: str = "gemini", model: str = "gemini-2.5-flash") -> Answer:
    return Answer(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        text="ok",
        input_tokens=1000,
        output_tokens=500,
        cost_usd=0.0015,
        latency_ms=300,
    )


def run(
    log: Log,
    query_id: str,
    at: datetime,
    *,
    campaign: str = "az",
    fail_first: bool = False,
    respond: bool = True,
) -> None:
    """A query through the pipeline as the services record it."""
    query = QueryRequested(query_id=query_id, query="What is a good GOTV message?",
                           campaign_id=campaign, submitted_at=at)
    log.put(TOPICS.queries, query_id, query, at)
    classified = classify(query)
    log.put(TOPICS.classified, query_id, classified, at + timedelta(seconds=0.1))
    summaries = []
    number = 1
    if fail_first:
        step = classified.route[0]
        log.put(TOPICS.provider_attempts, step.provider, ProviderAttempt(
            query_id=query_id, attempt_id=attempt_id_for(query_id, 1), provider=step.provider,
            model=step.model, attempt_number=1, outcome="error", error_kind="unavailable",
            latency_ms=20), at + timedelta(seconds=0.2))
        summaries.append(AttemptSummary(provider=step.provider, model=step.model,
                                        outcome="error", error_kind="unavailable"))
        number = 2
    answer = _answer()
    log.put(TOPICS.provider_attempts, "gemini", ProviderAttempt(
        query_id=query_id, attempt_id=attempt_id_for(query_id, number), provider="gemini",
        model=answer.model, attempt_number=number, outcome="success", latency_ms=300,
        input_tokens=1000, output_tokens=500, cost_usd=0.0015), at + timedelta(seconds=0.5))
    summaries.append(AttemptSummary(provider="gemini", model=answer.model, outcome="success",
                                    cost_usd=0.0015))
    completion = CompletionProduced(
        query=query, classification=classified.classification, route=classified.route,
        status="succeeded", answer=answer, attempts=summaries)
    log.put(TOPICS.completions, query_id, completion, at + timedelta(seconds=0.6))
    if respond:
        response = build_response(
            query=query, path="intelligent", classification=classified.classification,
            route=classified.route, attempts=summaries, answer=answer, confidence=None,
            error=None)
        log.put(TOPICS.responses, query_id, response, at + timedelta(seconds=0.7))


def test_replay_rows_pick_the_window_and_campaign_and_count_fallbacks() -> None:
    log = Log()
    run(log, "before", T0 - timedelta(minutes=10))
    run(log, "a1", T0 + timedelta(seconds=1), fail_first=True)
    run(log, "n1", T0 + timedelta(seconds=2), campaign="nv")
    builder = log.build()
    window = Window(T0, T0 + timedelta(minutes=1))

    rows = [replay_row(t) for t in in_window(builder, window, "az")]

    assert [r["analysis_id"] for r in rows] == ["a1"]
    [row] = rows
    assert row["campaign"] == "az" and row["status"] == "completed"
    assert row["fallbacks"] == 1 and row["answered_by"] == "gemini/gemini-2.5-flash"
    everything = [replay_row(t) for t in in_window(builder, window)]
    assert totals(everything)["analyses"] == 2


def test_copies_of_one_event_count_once() -> None:
    log = Log()
    run(log, "a1", T0)
    log.records.extend(log.records)  # every event redelivered
    trail = log.build().trails["a1"]
    assert len(trail.responses) == 1 and len(trail.attempts) == 1


def test_verify_finds_each_kind_of_gap() -> None:
    log = Log()
    run(log, "fine", T0)
    run(log, "lost", T0 + timedelta(seconds=1), respond=False)
    run(log, "paid-twice", T0 + timedelta(seconds=2))
    # A second success for a step the completion did not use (a redelivery that paid again).
    log.put(TOPICS.provider_attempts, "gemini", ProviderAttempt(
        query_id="paid-twice", attempt_id=attempt_id_for("paid-twice", 2), provider="gemini",
        model="gemini-2.5-flash", attempt_number=2, outcome="success", latency_ms=1,
        cost_usd=0.002), T0 + timedelta(seconds=3))
    orphan = Log()
    run(orphan, "orphan", T0 + timedelta(seconds=4))
    log.records += [r for r in orphan.records if r.topic != TOPICS.queries]
    log.put(TOPICS.dead_letters, "x", DeadLetter(
        service="scorer", source_topic=TOPICS.completions, partition=0, offset=9,
        key_base64=DeadLetter.encode(b"fine"), payload_base64=DeadLetter.encode(b"{}"),
        payload_preview="{}", error_type="ValidationError", error_message="bad"),
        T0 + timedelta(seconds=5))

    window = Window(T0, T0 + timedelta(minutes=1))
    findings = find_gaps(log.build(), window, now=T0 + timedelta(hours=1))

    found = {(f.kind, f.analysis_id) for f in findings}
    assert found == {
        (NO_RESPONSE, "lost"),
        (UNUSED_ATTEMPT, "paid-twice"),
        (NO_QUERY, "orphan"),
        (DEAD_LETTER, "fine"),
    }


def test_a_young_query_without_response_is_in_flight_not_missing() -> None:
    log = Log()
    run(log, "young", T0, respond=False)
    window = Window(T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert find_gaps(log.build(), window, now=T0 + timedelta(seconds=10)) == []


def test_feedback_is_on_the_trail() -> None:
    log = Log()
    run(log, "a1", T0)
    log.put(TOPICS.feedback, "a1", FeedbackGiven(analysis_id="a1", rating="incorrect"),
            T0 + timedelta(minutes=5))
    row = replay_row(log.build().trails["a1"])
    assert row["feedback"] == "1xincorrect"


def test_whatif_counts_changed_routes_and_prices_the_recorded_tokens() -> None:
    log = Log()
    run(log, "a1", T0)
    trails = list(log.build().trails.values())
    classified = trails[0].classified
    assert classified is not None
    primary = classified.route[0]
    recorded = f"{primary.provider}/{primary.model}"
    same = Policy()
    cheaper = Policy(tier_models={t: "local/local-gguf" for t in ("simple", "standard",
                                                                   "complex", "live")})

    unchanged = what_if(trails, policy_decider(same), same, DEFAULT_CATALOGUE)
    changed = what_if(trails, policy_decider(cheaper), cheaper, DEFAULT_CATALOGUE)

    assert changed.summary["routes_changed"] == (0 if recorded == "local/local-gguf" else 1)
    assert changed.summary["new_cost_usd (estimate)"] == pytest.approx(
        DEFAULT_CATALOGUE.get("local", "local-gguf").cost_usd(1000, 500)
    )
    assert "assumed" in unchanged.summary["accuracy_table"]
    assert unchanged.rows[0]["est_new_accuracy"] is not None


def test_policy_thresholds_escalate_an_unsure_tier() -> None:
    policy = Policy(min_probability={"simple": 0.8})
    assert policy.decide({"simple": 0.6, "standard": 0.3, "complex": 0.1})[0] == "standard"
    assert policy.decide({"simple": 0.9, "standard": 0.1})[0] == "simple"


def test_an_escalated_round_joins_its_analysis_and_its_set_aside_answer_is_not_a_gap() -> None:
    log = Log()
    run(log, "e1", T0, respond=False)  # first round: Flash answered, then set aside
    [completion] = [r for r in log.records if r.topic == TOPICS.completions]
    first = CompletionProduced.from_bytes(completion.value or b"")
    escalation = Escalation(
        analysis_id="e1", reason="confidence 0.30 below 0.50",
        set_aside=first.attempts[-1], answer=_answer(),
        confidence=Confidence(score=0.3, components={}),
        earlier_attempts=first.attempts, route=first.route,
    )
    derived = "5f0c-derived"
    query = first.query.model_copy(update={"query_id": derived, "escalation": escalation})
    # The round's attempt is read before the round's own events: it must still join.
    log.put(TOPICS.provider_attempts, "perplexity", ProviderAttempt(
        query_id=derived, analysis_id="e1", attempt_id=attempt_id_for(derived, 1),
        provider="perplexity",
        model="sonar", attempt_number=1, outcome="success", latency_ms=200,
        cost_usd=0.006), T0 + timedelta(seconds=1))
    summary = AttemptSummary(provider="perplexity", model="sonar", outcome="success",
                             cost_usd=0.006)
    escalated = CompletionProduced(
        query=query, classification=first.classification, route=first.route[1:],
        status="succeeded", answer=_answer("perplexity", "sonar"), attempts=[summary])
    log.put(TOPICS.completions, derived, escalated, T0 + timedelta(seconds=1.1))
    response = build_response(
        query=first.query, path="intelligent", classification=first.classification,
        route=first.route, attempts=[summary], answer=escalated.answer, confidence=None,
        error=None)
    log.put(TOPICS.responses, "e1", response, T0 + timedelta(seconds=1.2))

    builder = log.build()
    assert derived not in builder.trails
    trail = builder.trails["e1"]
    assert len(trail.attempts) == 2 and [c.query.query_id for c in trail.escalated] == [derived]
    window = Window(T0, T0 + timedelta(minutes=1))
    assert find_gaps(builder, window, now=T0 + timedelta(hours=1)) == []

    # `audit show` lists the answer that was set aside, with why: never shown to the caller.
    document = trail_document(trail)
    assert document["set_aside"] == [
        {"round": 1, "provider": "gemini", "model": "gemini-2.5-flash",
         "reason": "confidence 0.30 below 0.50", "confidence": 0.3, "answer": "ok"}
    ]  # fmt: skip
    text = io.StringIO()
    render(document, text)
    assert "SET ASIDE (round 1: not shown to the caller)" in text.getvalue()
    assert "confidence 0.30 below 0.50" in text.getvalue()
