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
from strategist import create_app
from strategist.openapi import API_PREFIX, OPENAPI_PATH, OPERATIONS, openapi_document
from tests.unit.strategist.conftest import FakedApp, Parts, make_settings
from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_feedback import feedback_scenario

Faked = Callable[..., FakedApp]
API = f"{API_PREFIX}/strategist"
HANG_GUARD_S = 10.0
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _template(rule: str) -> str:
    """Flask's /x/<name> or /x/<int:name> as OpenAPI's /x/{name}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_served_document_is_openapi_3_1() -> None:
    response = create_app(make_settings()).test_client().get(OPENAPI_PATH)
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


def _analyze(faked: Faked, status: int) -> TestResponse:
    client, parts = faked(sync_wait_limit=1, sync_timeout_s=0.3, max_body_bytes=1024)
    url = f"{API}/analyze"
    if status in (200, 502):
        _answering(parts, failed=status == 502)
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
    if status == 200:
        parts.store.save(answered(QueryRequested(query_id=accepted["analysis_id"], query="q")))
    if status == 404:
        url = f"{API}/analyses/0123456789abcdef0123456789abcdef"
    if status == 503:
        parts.store.down = True
    return client.get(url)


def _get(path: str) -> Callable[[Faked, int], TestResponse]:
    return lambda faked, _status: faked()[0].get(path)


SCENARIOS: dict[tuple[str, str], Callable[[Faked, int], TestResponse]] = {
    (f"{API}/analyze", "post"): _analyze,
    (f"{API}/analyses", "post"): _submit,
    (f"{API}/analyses/{{analysis_id}}", "get"): _get_analysis,
    (f"{API}/analyses/{{analysis_id}}/feedback", "post"): feedback_scenario,
    (f"{API}/providers", "get"): _get(f"{API}/providers"),
    (OPENAPI_PATH, "get"): _get(OPENAPI_PATH),
}
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
    response = SCENARIOS[(path, method)](faked, status)
    assert response.status_code == status, response.get_data(as_text=True)
    _conforms(response, path, method)
