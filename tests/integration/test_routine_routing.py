"""Routine work on the real broker, through the real classifier, dispatcher and scorer:

- a routine task of a kind the local model is measured too weak for goes to Gemini 2.5
  Flash, and the route says why; a kind it is measured good at goes to the local model;
- a local answer that fails the pre-release check is set aside and the next model on its
  route answers, with `routing.escalation_reason` saying which check failed;
- a classifier whose capability file is missing does not start.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port
from providers.catalogue import GEMINI_FLASH, LOCAL_MODEL
from schemas.capability import CapabilityFile, GgufIdentity, KindRate, ModelCapability
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Answer, AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded

TIMEOUT_S = 60.0
SEND_TIMEOUT_S = 10.0
START_FAILURE_TIMEOUT_S = 60.0
TRANSLATE = "Translate into Spanish:\n\nVote early at your local library."
SUBJECT_LINES = "Write 5 subject lines inviting supporters to a town hall on public safety."
EMAIL_BODY = "Dear supporters,\nPlease join us at the town hall on public safety next week."


def _capability(path: Path) -> Path:
    """A file in which the local model writes subject lines well and translates badly."""
    rates = {"subject_lines": KindRate(n=10, usable=10, rate=1.0),
             "translate": KindRate(n=10, usable=0, rate=0.0)}  # fmt: skip
    local = ModelCapability(
        provider="local", model_id=LOCAL_MODEL, judged=True, note="test",
        gguf=GgufIdentity(file="measured-elsewhere.gguf", bytes=1),
        overall=KindRate(n=20, usable=10, rate=0.5), kinds=rates,
    )  # fmt: skip
    path.write_text(
        CapabilityFile(
            split="dev", measured_at=datetime.now(UTC), tasks_file="dev.jsonl", tasks=20,
            tasks_sha256_prefix="00", models=[local],
        ).model_dump_json()  # fmt: skip
    )
    return path


@pytest.fixture
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


def _read(kafka_bootstrap: str, topic: str, model: type, ids: set[str]) -> dict:
    reader = TopicReader(kafka_bootstrap, topic, model)
    try:
        key = (lambda e: e.query.query_id) if model is QueryClassified else (
            lambda e: e.analysis_id
        )
        found = reader.poll_until(lambda events: ids <= {key(e) for e in events}, TIMEOUT_S)
    finally:
        reader.close()
    return {key(e): e for e in found if key(e) in ids}


def test_routine_kinds_follow_the_measured_rates_and_a_failed_check_escalates(
    emulator, topics, producer, start_service, kafka_bootstrap, tmp_path: Path
) -> None:
    env = {"EMULATOR_URL": emulator.base_url,
           "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1"}  # fmt: skip
    classifier = start_service(
        "classifier", CLASSIFIER_CAPABILITY_PATH=str(_capability(tmp_path / "cap.json"))
    )
    start_service("dispatcher", **env)
    start_service("scorer", **env)
    # The file measured another model than the one configured: the classifier says so.
    assert "capability figures may be stale" in classifier.log_tail()

    for query_id, text in (("translate", TRANSLATE), ("subjects", SUBJECT_LINES)):
        # Classified only: the dispatcher would answer these too; the routes are the point.
        producer.send_and_wait(
            topics.queries, query_id, QueryRequested(query_id=query_id, query=text),
            SEND_TIMEOUT_S,
        )  # fmt: skip
    routed = _read(kafka_bootstrap, topics.classified, QueryClassified, {"translate", "subjects"})
    translate, subjects = routed["translate"], routed["subjects"]
    assert translate.classification.routine_kind == "translate"
    assert translate.route[0].model == GEMINI_FLASH
    assert "local model not used for translation: 0% usable" in translate.route[0].reason
    assert subjects.route[0].provider == "local"
    assert "local model serves subject lines: 100% usable" in subjects.route[0].reason

    # The local model's answer to the subject lines, as the dispatcher would publish it:
    # an email body instead of five lines. The scorer must not release it.
    answer = Answer(provider="local", model=LOCAL_MODEL, text=EMAIL_BODY, input_tokens=30,
                    output_tokens=40, cost_usd=0.0, latency_ms=900)  # fmt: skip
    completion = CompletionProduced(
        query=QueryRequested(query_id="weak", query=SUBJECT_LINES),
        classification=subjects.classification, route=subjects.route, status="succeeded",
        answer=answer,
        attempts=[AttemptSummary(provider="local", model=LOCAL_MODEL, outcome="success",
                                 latency_ms=900, cost_usd=0.0)],
    )  # fmt: skip
    producer.send_and_wait(topics.completions, "weak", completion, SEND_TIMEOUT_S)

    response = _read(kafka_bootstrap, topics.responses, AnalysisResponded, {"weak"})["weak"]
    assert response.status == "completed"
    assert (response.routing.provider, response.routing.model) == ("gemini", GEMINI_FLASH)
    assert response.result != EMAIL_BODY
    assert [a.model for a in response.routing.escalated_from] == [LOCAL_MODEL]
    reason = response.routing.escalation_reason
    assert reason is not None
    assert "failed the pre-release check (count: 2 items, 5 asked)" in reason


def test_a_missing_capability_file_stops_the_classifier(start_service, tmp_path: Path) -> None:
    missing = tmp_path / "capability.json"
    process = start_service("classifier", wait=False, CLASSIFIER_CAPABILITY_PATH=str(missing))
    assert process.proc is not None
    assert process.proc.wait(timeout=START_FAILURE_TIMEOUT_S) != 0
    log = process.log_tail()
    assert "cannot start" in log and str(missing) in log and "cannot read" in log
