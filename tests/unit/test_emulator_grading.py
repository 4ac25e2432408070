"""Simulated grading: outcomes follow the accuracy told, only the grader reads them, and the
one signal the scorer sees (avgLogprobs) differs between right and wrong answers."""

from __future__ import annotations

import statistics

import pytest
from flask.testing import FlaskClient

from emulator import create_app

GEMINI_KEY = {"x-goog-api-key": "test-key"}
BEARER = {"Authorization": "Bearer test-key"}
FLASH = "gemini-2.5-flash"
N = 400


@pytest.fixture
def client() -> FlaskClient:
    return create_app(latency_scale=0.0).test_client()


def _ask(client: FlaskClient, question: str) -> dict:
    body = {"contents": [{"role": "user", "parts": [{"text": question}]}]}
    response = client.post(f"/v1beta/models/{FLASH}:generateContent", json=body, headers=GEMINI_KEY)
    assert response.status_code == 200
    return response.get_json()


def test_outcomes_follow_the_accuracy_per_tier_and_only_the_grader_sees_them(client) -> None:
    questions = [f"Draft a talking point on housing (case {i})" for i in range(N)]
    tiers = {q: ("simple" if i % 2 else "complex") for i, q in enumerate(questions)}
    set_up = client.put(
        "/_control/grading",
        json={"accuracy": {FLASH: {"simple": 0.9, "complex": 0.3}}, "tiers": tiers, "seed": 5},
    )
    assert set_up.status_code == 200
    replies = {q: _ask(client, q) for q in questions}
    outcome = {}
    for q in questions:
        [grade] = client.get("/_control/grades", query_string={"model": FLASH, "question": q}).json[
            "grades"
        ]
        outcome[q] = grade["correct"]
        reply = replies[q]
        text = str(reply)
        assert "correct" not in text and "grade" not in text  # nothing in what the scorer reads
    simple = [outcome[q] for q in questions if tiers[q] == "simple"]
    complex_ = [outcome[q] for q in questions if tiers[q] == "complex"]
    assert 0.8 < sum(simple) / len(simple) < 0.97
    assert 0.2 < sum(complex_) / len(complex_) < 0.4

    logprob = {q: replies[q]["candidates"][0]["avgLogprobs"] for q in questions}
    right = statistics.mean(logprob[q] for q in questions if outcome[q])
    wrong = statistics.mean(logprob[q] for q in questions if not outcome[q])
    assert right - wrong > 0.2  # informative, as real models' log probabilities are
    texts = {q: replies[q]["candidates"][0]["content"]["parts"][0]["text"] for q in questions}
    client.delete("/_control/grading")
    assert texts == {
        q: _ask(client, q)["candidates"][0]["content"]["parts"][0]["text"] for q in questions
    }  # the answer text is the same with or without grading


def test_the_same_question_gets_the_same_outcome(client) -> None:
    client.put(
        "/_control/grading", json={"accuracy": {"sonar": {"live": 0.5}}, "default_tier": "live"}
    )
    body = {"model": "sonar", "messages": [{"role": "user", "content": "Latest polls (case 1)"}]}
    first = client.post("/chat/completions", json=body, headers=BEARER).get_json()
    [a] = client.get("/_control/grades", query_string={"model": "sonar"}).json["grades"]
    again = client.post("/chat/completions", json=body, headers=BEARER).get_json()
    [b] = client.get("/_control/grades", query_string={"model": "sonar"}).json["grades"]
    assert a == b and first["choices"] == again["choices"]


def test_a_bad_accuracy_is_refused_naming_the_field(client) -> None:
    response = client.put("/_control/grading", json={"accuracy": {FLASH: {"simple": 1.5}}})
    assert response.status_code == 400
    assert response.json["field"] == f"accuracy.{FLASH}.simple"
