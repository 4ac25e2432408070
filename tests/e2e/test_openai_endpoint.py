"""The official `openai` SDK, unchanged, against the running stack's `/v1`: models.list,
chat.completions.create with and without streaming, a named model, errors; each chat is
one analysis on the topics (its query, its one response), readable on the strategist API.

Uses the stack's app when its factory registers the blueprint; until then (app.py is
edited by another change) an app process of this stack with the blueprint registered
(`tests/e2e/openai_app.py`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from bench.openai_ttft import measure, summary
from harness.kafka import TopicReader
from harness.processes import ManagedProcess, free_port, running
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from tests.e2e.stack import API, APP_READY_TIMEOUT_S, APP_SYNC_TIMEOUT_S, Stack, StackFactory

pytestmark = pytest.mark.e2e

logger = logging.getLogger(__name__)

QUESTION = "What do the latest polls say about the Arizona Senate race?"
SYSTEM = "You advise a Senate campaign in Arizona. Be concise."
TOPIC_READ_TIMEOUT_S = 30.0
SDK_TIMEOUT_S = APP_SYNC_TIMEOUT_S + 30
TTFT_SAMPLES = 4


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    with stack_factory() as running_stack:
        yield running_stack


def _serves_v1(base_url: str, header: dict[str, str]) -> bool:
    return httpx.get(f"{base_url}/v1/models", headers=header, timeout=10).status_code == 200


@pytest.fixture(scope="module")
def base_url(stack: Stack) -> Iterator[str]:
    """The stack's app if it serves /v1, else an app process with the blueprint added."""
    app = stack.app
    if _serves_v1(app.base_url, app.key.header):
        yield app.base_url
        return
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "8"]
    process = ManagedProcess(
        "app-openai",
        [*gunicorn, "--bind", f"127.0.0.1:{port}", "tests.e2e.openai_app:create_app()"],
        app.process.env,  # the stack app's environment: same namespace, keys, emulator
    )
    url = f"http://127.0.0.1:{port}"
    with running(process):
        process.wait_until(lambda: _serves_v1(url, app.key.header), APP_READY_TIMEOUT_S, "/v1")
        yield url


@pytest.fixture(scope="module")
def client(stack: Stack, base_url: str) -> OpenAI:
    """The SDK as a strategist would configure it: our base URL and a strategist key."""
    key = stack.key_for("az-senate")
    return OpenAI(base_url=f"{base_url}/v1", api_key=key.key, timeout=SDK_TIMEOUT_S)


def _analysis_of(stack: Stack, completion_id: str) -> AnalysisResponded:
    analysis_id = completion_id.removeprefix("chatcmpl-")
    reply = stack.app.client.get(f"{API}/analyses/{analysis_id}")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    body.pop("feedback", None)  # the strategist API adds the feedback received
    return AnalysisResponded.model_validate(body)


def test_models_list_has_auto_and_the_catalogue(client: OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "auto"
    assert set(ids[1:]) >= {spec.model_id for spec in DEFAULT_CATALOGUE.models}


def test_a_completion_through_the_pipeline(stack: Stack, client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="auto",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    )
    [choice] = completion.choices
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length", "content_filter")
    routing = (completion.model_extra or {})["x_routing"]
    analysis = _analysis_of(stack, completion.id)
    assert routing["analysis_id"] == analysis.analysis_id
    assert analysis.campaign_id == "az-senate"  # the key's campaign
    assert choice.message.content == analysis.result
    assert completion.model == analysis.routing.model  # the model that answered
    assert routing["route"] and routing["explanation"]
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_a_named_model_answers_as_named(stack: Stack, client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=GEMINI_FLASH, messages=[{"role": "user", "content": QUESTION}]
    )
    routing = (completion.model_extra or {})["x_routing"]
    assert routing["route"][0]["model"] == GEMINI_FLASH
    assert "caller named" in routing["route"][0]["reason"]
    assert completion.model == GEMINI_FLASH, routing["explanation"]


def test_a_stream_is_the_whole_answer_of_one_analysis_on_the_topics(
    stack: Stack, client: OpenAI
) -> None:
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    ids = {chunk.id for chunk in chunks}
    assert len(ids) == 1
    [completion_id] = ids
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    analysis = _analysis_of(stack, completion_id)
    assert text == analysis.result  # complete, not truncated
    routing = [(c.model_extra or {})["x_routing"] for c in chunks if c.model_extra and (
        "x_routing" in c.model_extra
    )]
    assert routing and routing[0]["analysis_id"] == analysis.analysis_id
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert {c.model for c in chunks} == {analysis.routing.model}

    queries = TopicReader(stack.bootstrap, stack.topics.queries, QueryRequested)
    responses = TopicReader(stack.bootstrap, stack.topics.responses, AnalysisResponded)
    try:
        mine = [
            q
            for q in queries.poll_until(
                lambda events: any(e.query_id == analysis.analysis_id for e in events),
                TOPIC_READ_TIMEOUT_S,
            )
            if q.query_id == analysis.analysis_id
        ]
        answers = [
            r
            for r in responses.poll_until(
                lambda events: any(e.analysis_id == analysis.analysis_id for e in events),
                TOPIC_READ_TIMEOUT_S,
            )
            if r.analysis_id == analysis.analysis_id
        ]
    finally:
        queries.close()
        responses.close()
    assert {q.query for q in mine} == {QUESTION}
    assert {r.result for r in answers} == {text}  # one analysis, one answer: the streamed one


def test_errors_reach_the_sdk_as_its_exceptions(client: OpenAI, base_url: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": QUESTION}], n=2
        )
    assert bad.value.param == "n"
    stranger = OpenAI(base_url=f"{base_url}/v1", api_key="sk-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_time_to_first_token_added_by_the_pipeline(client: OpenAI) -> None:
    """Measured, not bounded (the bound here only catches a hang): see the report."""
    samples = measure(client, TTFT_SAMPLES)
    result = summary(samples)
    logger.warning("openai endpoint, buffered streaming: %s", result)
    assert all(0 < s.ttft_ms <= s.total_ms < SDK_TIMEOUT_S * 1000 for s in samples)
