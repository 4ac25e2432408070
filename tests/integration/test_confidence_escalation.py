"""Calibration and escalation on the real broker and Redis, with our services as processes.

- `audit calibrate` fits a calibration from graded answers and publishes it; the running
  scorer applies it to its next score without a restart.
- An unsure Flash answer is escalated through the real dispatcher (and, end to end, from
  the classifier) to the next model; the caller gets one response naming both answers.
- A redelivered unsure completion escalates once: one query on the dispatcher's input,
  one paid call to the next model, one response.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from core.confidence import calibrated
from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port, infra_env
from providers.catalogue import GEMINI_FLASH, SONAR
from schemas.calibration import CALIBRATION_KEY, CalibrationPublished
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.feedback import FeedbackGiven
from schemas.parts import Answer, AttemptSummary, Classification, RouteStep
from schemas.query import QueryOptions, QueryRequested
from schemas.response import AnalysisResponded
from services.scorer.escalation import escalated_query_id

ANSWER_TIMEOUT_S = 60.0
SEND_TIMEOUT_S = 10.0
CALIBRATE_TIMEOUT_S = 120.0
QUIET_S = 3.0
"""How long to keep reading for a second copy that must not come."""
ROUTE = [
    RouteStep(provider="gemini", model=GEMINI_FLASH, reason="primary"),
    RouteStep(provider="perplexity", model=SONAR, reason="fallback"),
]
CLASSIFICATION = Classification(
    complexity=0.3, needs_live_data=False, analysis_type="messaging", cost_sensitive=False
)
HALVING = CalibrationPublished(
    version="test-halving",
    method="isotonic",
    xs=[0.0, 1.0],
    ys=[0.0, 0.5],
    n_graded=100,
    n_correct=50,
    reason="published by the test: every answer looks unsure",
)


@pytest.fixture
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


def _flash_completion(query_id: str) -> CompletionProduced:
    answer = Answer(
        provider="gemini",
        model=GEMINI_FLASH,
        text="Lead with local school funding.",
        input_tokens=30,
        output_tokens=40,
        cost_usd=0.0001,
        latency_ms=100,
        avg_logprob=-0.3,
    )
    return CompletionProduced(
        query=QueryRequested(query_id=query_id, query=f"Which message for parents? ({query_id})"),
        classification=CLASSIFICATION,
        route=ROUTE,
        status="succeeded",
        answer=answer,
        attempts=[AttemptSummary(provider="gemini", model=GEMINI_FLASH, outcome="success",
                                 latency_ms=100, cost_usd=0.0001)],
    )  # fmt: skip


def _responses(kafka_bootstrap: str, topic: str, ids: set[str]) -> dict[str, AnalysisResponded]:
    reader = TopicReader(kafka_bootstrap, topic, AnalysisResponded)
    try:
        found = reader.poll_until(lambda e: ids <= {r.analysis_id for r in e}, ANSWER_TIMEOUT_S)
    finally:
        reader.close()
    return {r.analysis_id: r for r in found if r.analysis_id in ids}


def test_audit_calibrate_changes_the_running_scorers_next_score(
    topics, producer, start_service, kafka_bootstrap, redis_url
) -> None:
    scorer = start_service(
        "scorer",
        EMULATOR_URL=f"http://127.0.0.1:{free_port()}",
        SCORER_ESCALATION_THRESHOLD="0",
    )
    graded = [f"graded-{i}" for i in range(8)]
    for analysis_id in graded:
        producer.send_and_wait(
            topics.completions, analysis_id, _flash_completion(analysis_id), SEND_TIMEOUT_S
        )
    before = _responses(kafka_bootstrap, topics.responses, set(graded))
    for response in before.values():
        assert response.confidence is not None
        assert response.confidence.calibration_version == "identity"
        assert response.confidence.score == response.confidence.raw_score
    for i, analysis_id in enumerate(graded):  # half right, half wrong: a raw ~0.7 is a coin
        grade = FeedbackGiven(
            analysis_id=analysis_id,
            rating="correct" if i % 2 else "incorrect",
            provider="gemini",
            model=GEMINI_FLASH,
            analysis_type="messaging",
        )
        producer.send_and_wait(topics.feedback, analysis_id, grade, SEND_TIMEOUT_S)

    env = infra_env(topics.namespace, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, REDIS_URL=redis_url)
    run = subprocess.run(
        [sys.executable, "-m", "audit", "calibrate", "--min-graded", "4", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CALIBRATE_TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert '"graded": 8' in run.stdout
    reader = TopicReader(kafka_bootstrap, topics.calibrations, CalibrationPublished)
    try:
        [published] = reader.poll_until(lambda e: len(e) >= 1, ANSWER_TIMEOUT_S)
    finally:
        reader.close()
    assert published.method in ("isotonic", "platt") and published.n_graded == 8

    producer.send_and_wait(topics.completions, "after", _flash_completion("after"), SEND_TIMEOUT_S)
    after = _responses(kafka_bootstrap, topics.responses, {"after"})["after"].confidence
    assert after is not None and after.raw_score is not None
    assert after.calibration_version == published.version
    assert after.score == pytest.approx(calibrated(after.raw_score, published), abs=1e-4)
    assert abs(after.score - after.raw_score) > 0.05  # a coin, not the raw ~0.7
    assert scorer.alive()  # the same process: no restart


def test_a_redelivered_unsure_answer_escalates_once_through_the_dispatcher(
    emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    emulator.reset()
    env = {
        "EMULATOR_URL": emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    producer.send_and_wait(topics.calibrations, CALIBRATION_KEY, HALVING, SEND_TIMEOUT_S)
    start_service("dispatcher", **env)
    start_service("scorer", SCORER_ESCALATION_THRESHOLD="0.6", **env)

    completion = _flash_completion("unsure")
    for _ in range(2):  # the same event twice, as a redelivery would bring it
        producer.send_and_wait(topics.completions, "unsure", completion, SEND_TIMEOUT_S)

    response = _responses(kafka_bootstrap, topics.responses, {"unsure"})["unsure"]
    assert response.routing.model == SONAR
    assert [a.model for a in response.routing.escalated_from] == [GEMINI_FLASH]
    assert response.routing.escalation_reason is not None
    assert "below the escalation threshold 0.60" in response.routing.escalation_reason
    assert response.confidence is not None
    assert response.confidence.calibration_version == "test-halving"

    classified = TopicReader(kafka_bootstrap, topics.classified, QueryClassified)
    responses = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
    try:
        escalations = classified.poll_until(lambda e: False, QUIET_S)
        answers = responses.poll_until(lambda e: False, QUIET_S)
    finally:
        classified.close()
        responses.close()
    assert {e.query.query_id for e in escalations} == {escalated_query_id("unsure", 1)}
    assert len({e.event_id for e in escalations}) == 1  # copies of one event at most
    assert len({r.event_id for r in answers if r.analysis_id == "unsure"}) == 1
    counters = httpx.get(f"{emulator.base_url}/_control/providers", timeout=5).json()
    assert counters["perplexity"]["by_endpoint"].get("chat", 0) == 1  # the next model, paid once


def test_escalation_end_to_end_from_the_classifier(
    emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    emulator.reset()
    env = {
        "EMULATOR_URL": emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    producer.send_and_wait(topics.calibrations, CALIBRATION_KEY, HALVING, SEND_TIMEOUT_S)
    start_service("classifier")
    start_service("dispatcher", **env)
    start_service("scorer", SCORER_ESCALATION_THRESHOLD="0.6", **env)

    query = QueryRequested(
        query_id="from-app",
        query="Fix the typo in this sentence: Thnak you to all our volunteers.",
        options=QueryOptions(prefer="cost", providers=["gemini", "perplexity"]),
    )
    producer.send_and_wait(topics.queries, query.query_id, query, SEND_TIMEOUT_S)

    response = _responses(kafka_bootstrap, topics.responses, {"from-app"})["from-app"]
    assert response.analysis_id == "from-app"
    assert response.routing.route[0].model == GEMINI_FLASH
    assert [a.model for a in response.routing.escalated_from] == [GEMINI_FLASH]
    assert response.routing.model == response.routing.route[1].model
    assert response.routing.cost_usd > response.routing.escalated_from[0].cost_usd


def test_a_redelivery_under_a_harsher_calibration_does_not_escalate_what_was_answered(
    emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    """The decision is taken once per completion: answered the first time, a redelivery
    after a calibration that would now escalate neither pays the next model nor answers
    again."""
    emulator.reset()
    env = {
        "EMULATOR_URL": emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    sure = HALVING.model_copy(update={"version": "test-sure", "ys": [0.9, 0.95]})
    producer.send_and_wait(topics.calibrations, CALIBRATION_KEY, sure, SEND_TIMEOUT_S)
    start_service("dispatcher", **env)
    start_service("scorer", SCORER_ESCALATION_THRESHOLD="0.6", **env)

    completion = _flash_completion("answered")
    producer.send_and_wait(topics.completions, "answered", completion, SEND_TIMEOUT_S)
    first = _responses(kafka_bootstrap, topics.responses, {"answered"})["answered"]
    assert first.routing.model == GEMINI_FLASH and not first.routing.escalated_from

    producer.send_and_wait(topics.calibrations, CALIBRATION_KEY, HALVING, SEND_TIMEOUT_S)
    # A probe shows when the scorer applies the harsher calibration (and that it escalates).
    producer.send_and_wait(topics.completions, "probe", _flash_completion("probe"), SEND_TIMEOUT_S)
    probe = _responses(kafka_bootstrap, topics.responses, {"probe"})["probe"]
    assert probe.routing.escalated_from, "the harsher calibration escalates a new answer"

    producer.send_and_wait(topics.completions, "answered", completion, SEND_TIMEOUT_S)
    classified = TopicReader(kafka_bootstrap, topics.classified, QueryClassified)
    responses = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
    try:
        escalations = classified.poll_until(lambda e: False, QUIET_S)
        answers = responses.poll_until(lambda e: False, QUIET_S)
    finally:
        classified.close()
        responses.close()
    assert {e.query.escalation.analysis_id for e in escalations if e.query.escalation} == {"probe"}
    assert {r.event_id for r in answers if r.analysis_id == "answered"} == {first.event_id}
    counters = httpx.get(f"{emulator.base_url}/_control/providers", timeout=5).json()
    assert counters["perplexity"]["by_endpoint"].get("chat", 0) == 1  # the probe's only
