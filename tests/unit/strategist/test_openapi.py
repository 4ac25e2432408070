"""The OpenAPI document matches the app: same routes and methods, and every documented
status code is one the route really answers, with a body that fits the document."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist import create_app
from strategist.analysis.store import StoreUnavailable
from strategist.openapi import API_PREFIX, OPENAPI_PATH, OPERATIONS, openapi_document
from strategist.usage import UsageBody
from tests.unit.strategist.conftest import (
    FakedApp,
    Parts,
    admin_client,
    client_with_key,
    keyring_of,
    limiter_of,
    make_settings,
)
from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_content_blocked import blocked
from tests.unit.strategist.test_feedback import feedback_scenario

Faked = Callable[..., FakedApp]
API = f"{API_PREFIX}/strategist"
HANG_GUARD_S = 10.0
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _template(rule: str) -> str:
    """Flask's /x/<name> or /x/<int:name> as OpenAPI's /x/{name}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_served_document_is_openapi_3_1() -> None:
    response = admin_client(create_app(make_settings())).get(OPENAPI_PATH)
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document == openapi_document()


def test_every_api_route_is_documented_and_nothing_else() -> None:
    app = create_app(make_settings())
    in_app = {
        (_template(rule.rule), method.lower(), rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX)
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    documented = {
        (path, method, op.endpoint)
        for path, item in openapi_document()["paths"].items()
        for method in item
        for op in OPERATIONS
        if op.path == path and op.method == method
    }
    assert in_app == documented


def _validator(document: dict[str, Any], ref: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**ref, "components": document["components"]})


def _conforms(response: TestResponse, path: str, method: str) -> None:
    document = openapi_document()
    documented = document["paths"][path][method]["responses"][str(response.status_code)]
    if "application/json" not in documented["content"]:  # the event stream
        assert response.mimetype == "text/event-stream"
        return
    schema = documented["content"]["application/json"]["schema"]
    _validator(document, schema).validate(response.get_json())
    for header in documented.get("headers", {}):
        assert header in response.headers, header


@contextmanager
def _sync_slots_taken(client: FlaskClient, parts: Parts) -> Iterator[None]:
    """Hold the only sync wait slot (settings sync_wait_limit=1) for the block."""
    published = threading.Event()
    parts.publisher.on_publish = lambda _q: published.set()
    holder = threading.Thread(target=lambda: client.post(f"{API}/analyze", json={"query": "h"}))
    holder.start()
    assert published.wait(HANG_GUARD_S)
    try:
        yield
    finally:
        [query] = parts.publisher.published
        parts.waiter.dispatch(query.query_id.encode(), answered(query).to_bytes())
        holder.join(HANG_GUARD_S)
        parts.publisher.on_publish = None


def _answering(parts: Parts, *, failed: bool = False) -> None:
    parts.publisher.on_publish = lambda query: parts.store.save(answered(query, failed=failed))


def out_of_budget(query: QueryRequested) -> AnalysisResponded:
    """A failed answer as the dispatcher ends a query its campaign cannot pay for."""
    failed = answered(query, failed=True)
    return failed.model_copy(
        update={"error": "budget_exhausted: the campaign's monthly limit is reached"}
    )


def _analyze(faked: Faked, status: int) -> TestResponse:
    client, parts = faked(sync_wait_limit=1, sync_timeout_s=0.3, max_body_bytes=1024)
    url = f"{API}/analyze"
    if status in (200, 502):
        _answering(parts, failed=status == 502)
    if status == 402:
        parts.publisher.on_publish = lambda query: parts.store.save(out_of_budget(query))
    if status == 400:
        return client.post(url, data="{", content_type="application/json")
    if status == 413:
        return client.post(url, json={"query": "q" * 2048})
    if status == 422:
        return client.post(url, json={"query": ""})
    if status == 503:
        with _sync_slots_taken(client, parts):
            parts.store.down = True
            return client.post(url, json={"query": "q"})
    return client.post(url, json={"query": "q"})


def _submit(faked: Faked, status: int) -> TestResponse:
    client, parts = faked(max_body_bytes=1024)
    url = f"{API}/analyses"
    parts.store.down = status == 503
    if status == 400:
        return client.post(url, data="not json", content_type="text/plain")
    if status == 413:
        return client.post(url, json={"query": "q" * 2048})
    if status == 422:
        return client.post(url, json={"query": "q", "colour": "red"})
    return client.post(url, json={"query": "q"})


def _get_analysis(faked: Faked, status: int) -> TestResponse:
    client, parts = faked()
    accepted = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    url = accepted["status_url"]
    query = QueryRequested(query_id=accepted["analysis_id"], query="q")
    if status == 200:
        parts.store.save(answered(query))
    if status == 402:
        parts.store.save(out_of_budget(query))
    if status == 422:
        parts.store.save(blocked(query))
    if status == 404:
        url = f"{API}/analyses/0123456789abcdef0123456789abcdef"
    if status == 503:
        parts.store.down = True
    return client.get(url)


def _events(faked: Faked, status: int) -> TestResponse:
    client, parts = faked()
    accepted = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    url = f"{accepted['status_url']}/events"
    parts.store.save(answered(QueryRequested(query_id=accepted["analysis_id"], query="q")))
    if status == 400:
        return client.get(url, headers={"Last-Event-ID": "not-an-id"})
    if status == 404:
        url = f"{API}/analyses/{UNKNOWN_ID}/events"
    if status == 503:
        parts.store.down = True
    return client.get(url)


def _get(path: str) -> Callable[[Faked, int], TestResponse]:
    return lambda faked, _status: faked()[0].get(path)


def _usage(faked: Faked, status: int) -> TestResponse:
    client, _parts = faked()

    def books(_client: object, _namespace: str, campaign_id: str) -> UsageBody:
        if status == 503:
            raise StoreUnavailable("redis usage: ConnectionError")
        return UsageBody(
            campaign_id=campaign_id,
            month="2026-11",
            spent_usd=1.5,
            reserved_usd=0.25,
            limit_usd=10.0,
            remaining_usd=8.25,
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("strategist.router.campaign_usage", books)
        return client.get(f"{API}/usage")


UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
AUTH_STATUSES = (401, 403, 429, 503)
"""Answered by the key check before any handler runs (see strategist/auth/gate.py)."""


def _refused_key(path: str, method: str, status: int, faked: Faked) -> TestResponse:
    """The key check's answers, the same on every operation."""
    client, _parts = faked()
    app = client.application
    url = path.replace("{analysis_id}", UNKNOWN_ID)
    if status == 401:
        client = client_with_key(app, None)
    elif status == 403:
        key = keyring_of(app).add("c-revoked")
        keyring_of(app).revoke(key)
        client = client_with_key(app, key)
    elif status == 429:
        limiter_of(app).wait_s["key_admin"] = 7
    elif status == 503:
        keyring_of(app).down = True
    return client.open(url, method=method.upper(), json={} if method == "post" else None)


SCENARIOS: dict[tuple[str, str], Callable[[Faked, int], TestResponse]] = {
    (f"{API}/analyze", "post"): _analyze,
    (f"{API}/analyses", "post"): _submit,
    (f"{API}/analyses/{{analysis_id}}", "get"): _get_analysis,
    (f"{API}/analyses/{{analysis_id}}/feedback", "post"): feedback_scenario,
    (f"{API}/analyses/{{analysis_id}}/events", "get"): _events,
    (f"{API}/providers", "get"): _get(f"{API}/providers"),
    (f"{API}/usage", "get"): _usage,
    (OPENAPI_PATH, "get"): _get(OPENAPI_PATH),
}
OWN_STATUSES: dict[tuple[str, str], set[int]] = {
    (op.path, op.method): set(op.replies) for op in OPERATIONS
}
"""What each operation answers itself (its 503 is its store's, not the key check's)."""
DOCUMENTED = [
    (path, method, int(status))
    for path, item in openapi_document()["paths"].items()
    for method, operation in item.items()
    for status in operation["responses"]
]


def test_every_operation_has_scenarios() -> None:
    assert {(path, method) for path, method, _ in DOCUMENTED} == set(SCENARIOS)


@pytest.mark.parametrize(("path", "method", "status"), DOCUMENTED)
def test_each_documented_status_is_answered_as_documented(
    faked: Faked, path: str, method: str, status: int
) -> None:
    if status in AUTH_STATUSES and status not in OWN_STATUSES[(path, method)]:
        response = _refused_key(path, method, status, faked)
    else:
        response = SCENARIOS[(path, method)](faked, status)
    assert response.status_code == status, response.get_data(as_text=True)
    _conforms(response, path, method)


def test_options_stream_mode_is_described_for_the_caller() -> None:
    """The caller reads which modes there are, the default, and that JSON stays buffered."""
    options = openapi_document()["components"]["schemas"]["QueryOptions"]["properties"]
    described = options["stream_mode"]
    assert described["anyOf"][0]["enum"] == ["auto", "live", "buffered"]
    assert "STRATEGIST_STREAM_MODE" in described["description"]
    assert "JSON POST /analyze" in described["description"]
