"""POST /analyses/<id>/feedback and the feedback shown by GET /analyses/<id>, on fakes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from schemas.feedback import MAX_COMMENT_CHARS, FeedbackGiven
from schemas.query import QueryRequested
from strategist.analysis.pipeline import PipelineUnavailable
from strategist.runtime import Components, Runtime
from tests.unit.strategist.conftest import FakedApp, Parts
from tests.unit.strategist.fakes import answered

Faked = Callable[..., FakedApp]
API = "/api/v1/strategist"
UNKNOWN = "0123456789abcdef0123456789abcdef"


class FakeDesk:
    """Records what was given; `down` makes the broker refuse it."""

    def __init__(self) -> None:
        self.given: list[FeedbackGiven] = []
        self.down = False

    def give(self, event: FeedbackGiven) -> None:
        if self.down:
            raise PipelineUnavailable("broker down")
        self.given.append(event)

    def received(self, analysis_id: str) -> list[FeedbackGiven]:
        return [e for e in self.given if e.analysis_id == analysis_id]


def with_desk(client: FlaskClient, parts: Parts) -> FakeDesk:
    """Give the faked app's components a feedback desk (`Components.feedback`)."""
    desk = FakeDesk()
    runtime: Runtime = client.application.extensions["strategist"]

    def build(settings: object) -> Components:
        components = parts.components(settings)  # type: ignore[arg-type]
        components.feedback = desk  # type: ignore[assignment]
        return components

    runtime.build = build  # type: ignore[assignment]
    return desk


def finished_analysis(client: FlaskClient, parts: Parts, *, failed: bool = False) -> str:
    accepted = client.post(f"{API}/analyses", json={"query": "latest polls"}).get_json()
    analysis_id: str = accepted["analysis_id"]
    query = QueryRequested(query_id=analysis_id, query="latest polls", analysis_type="polling")
    parts.store.save(answered(query, failed=failed))
    return analysis_id


def feedback_scenario(faked: Faked, status: int) -> TestResponse:
    """Produces each documented status of the feedback operation (for test_openapi)."""
    client, parts = faked(max_body_bytes=1024)
    desk = with_desk(client, parts)
    analysis_id = finished_analysis(client, parts)
    url = f"{API}/analyses/{analysis_id}/feedback"
    if status == 400:
        return client.post(url, data="{", content_type="application/json")
    if status == 404:
        return client.post(f"{API}/analyses/{UNKNOWN}/feedback", json={"rating": "correct"})
    if status == 409:
        pending = client.post(f"{API}/analyses", json={"query": "q"}).get_json()["analysis_id"]
        return client.post(f"{API}/analyses/{pending}/feedback", json={"rating": "correct"})
    if status == 413:
        return client.post(url, json={"rating": "correct", "comment": "c" * 2048})
    if status == 422:
        return client.post(url, json={"rating": "great"})
    if status == 503:
        desk.down = True
    return client.post(url, json={"rating": "correct"})


def test_feedback_is_accepted_and_names_what_it_grades(faked: Faked) -> None:
    client, parts = faked()
    desk = with_desk(client, parts)
    analysis_id = finished_analysis(client, parts)

    reply = client.post(
        f"{API}/analyses/{analysis_id}/feedback",
        json={"rating": "partially_correct", "comment": "margin is off", "grader": "ana"},
    )

    assert reply.status_code == 202, reply.get_json()
    body = reply.get_json()
    [event] = desk.given
    assert body == {
        "analysis_id": analysis_id,
        "feedback_id": event.event_id,
        "rating": "partially_correct",
        "status": "accepted",
    }
    assert (event.provider, event.model, event.analysis_type) == ("perplexity", "sonar", "polling")
    assert (event.comment, event.grader) == ("margin is off", "ana")


def test_get_shows_the_feedback_received(faked: Faked) -> None:
    client, parts = faked()
    with_desk(client, parts)
    analysis_id = finished_analysis(client, parts)
    before = client.get(f"{API}/analyses/{analysis_id}").get_json()
    client.post(f"{API}/analyses/{analysis_id}/feedback", json={"rating": "incorrect"})
    client.post(f"{API}/analyses/{analysis_id}/feedback", json={"rating": "correct"})

    after = client.get(f"{API}/analyses/{analysis_id}").get_json()

    assert before["feedback"] == []
    assert [f["rating"] for f in after["feedback"]] == ["incorrect", "correct"]
    assert after["result"] == before["result"]


def test_unknown_analysis_is_404_and_nothing_is_published(faked: Faked) -> None:
    client, parts = faked()
    desk = with_desk(client, parts)
    reply = client.post(f"{API}/analyses/{UNKNOWN}/feedback", json={"rating": "correct"})
    assert reply.status_code == 404
    assert reply.get_json()["error"]["field"] == "analysis_id"
    assert desk.given == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": "great"}, "rating"),
        ({}, "rating"),
        ({"rating": "correct", "comment": "x" * (MAX_COMMENT_CHARS + 1)}, "comment"),
        ({"rating": "correct", "grader": ""}, "grader"),
        ({"rating": "correct", "score": 5}, "score"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(faked: Faked, body: dict, field: str) -> None:
    client, parts = faked()
    desk = with_desk(client, parts)
    analysis_id = finished_analysis(client, parts)
    reply = client.post(f"{API}/analyses/{analysis_id}/feedback", json=body)
    assert reply.status_code == 422
    assert reply.get_json()["error"]["field"] == field
    assert desk.given == []


def test_pending_analysis_is_409(faked: Faked) -> None:
    client, parts = faked()
    desk = with_desk(client, parts)
    pending = client.post(f"{API}/analyses", json={"query": "q"}).get_json()["analysis_id"]
    reply = client.post(f"{API}/analyses/{pending}/feedback", json={"rating": "correct"})
    assert reply.status_code == 409
    assert desk.given == []


def test_feedback_on_a_failed_analysis_names_no_model(faked: Faked) -> None:
    client, parts = faked()
    desk = with_desk(client, parts)
    analysis_id = finished_analysis(client, parts, failed=True)
    reply = client.post(f"{API}/analyses/{analysis_id}/feedback", json={"rating": "incorrect"})
    assert reply.status_code == 202
    [event] = desk.given
    assert event.provider is None and event.model is None
