"""The app's reading side of live streaming against the contract with the dispatcher, on
the real broker, Redis and PostgreSQL (the app's API key): the app under gunicorn in a
fresh namespace, and this test in the dispatcher's and scorer's place, reading each query
off the queries topic and publishing its answer deltas (`release`, `continues_attempt_id`)
and its response as they would.

What it shows: in `auto`, the default, a caller (the strategist event stream, the official
`openai` SDK) receives the first text while the answer does not exist yet; a continuation
goes on with no restart; a failover of a held attempt stays invisible; a restart ends a
/v1 stream with the in-band error the SDK raises. The same behaviour end to end needs the
dispatcher that sets `release` (issue 16); `tests/e2e/test_streaming.py` runs it there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from harness import kafka
from harness.kafka import TopicReader, delete_namespace
from harness.processes import (
    ManagedProcess,
    free_port,
    gunicorn_app,
    infra_env,
    running,
    unique_namespace,
)
from schemas.delta import AnswerDelta
from schemas.query import QueryRequested
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.kafka_security import KafkaSecurity
from services.common.producer import EventProducer
from services.common.redis_keys import RedisKeys
from strategist.analysis.store import ResultStore
from tests.support.keys import test_key
from tests.unit.strategist.fakes import answered

API = "/api/v1/strategist"
APP_READY_TIMEOUT_S = 90.0
QUERY_WAIT_S = 30.0
CLIENT_WAIT_S = 30.0
"""How long the fake dispatcher waits for the caller to show the first text (a hang guard:
the caller shows it within milliseconds)."""
SEND_TIMEOUT_S = 10.0
RESULT_TTL_S = 600
QUESTION = "What do the latest polls say in Maricopa?"
ANSWER = f"answer to {QUESTION}"
WAIT = "wait for the caller"
"""A step of a script: publish nothing more until the caller has shown text."""


@dataclass
class Pipeline:
    """The app in a namespace of its own, and the dispatcher's and scorer's place in it."""

    base_url: str
    key: str
    topics: TopicNames
    producer: EventProducer
    queries: TopicReader
    store: ResultStore
    process: ManagedProcess

    def next_query(self) -> QueryRequested:
        seen = len(self.queries.events)
        events = self.queries.poll_until(lambda got: len(got) > seen, QUERY_WAIT_S)
        assert len(events) > seen, "the app published no query"
        query: QueryRequested = events[seen]
        return query

    def answer(self, script: list[Any], shown: threading.Event) -> ScriptedAnswer:
        """The next query answered by `script` in a thread (see ScriptedAnswer)."""
        answering = ScriptedAnswer(self, script, shown)
        answering.start()
        return answering


class ScriptedAnswer(threading.Thread):
    """Takes the next query, publishes the script's deltas (waiting at WAIT until `shown`
    is set: the caller showed text), then its response, as the scorer does (Redis, then
    the responses topic)."""

    def __init__(self, pipeline: Pipeline, script: list[Any], shown: threading.Event) -> None:
        super().__init__(daemon=True)
        self._pipeline = pipeline
        self._script = script
        self._shown = shown
        self.query: QueryRequested | None = None
        self.shown_before_answer: bool | None = None
        """Whether the caller had shown text before the response existed."""

    def run(self) -> None:
        pipeline = self._pipeline
        query = self.query = pipeline.next_query()
        for step in self._script:
            if step == WAIT:
                self.shown_before_answer = self._shown.wait(CLIENT_WAIT_S)
                continue
            delta = step.model_copy(update={"analysis_id": query.query_id,
                                            "query_id": query.query_id})  # fmt: skip
            pipeline.producer.send(pipeline.topics.answer_deltas, query.query_id, delta)
        response = answered(query, provider="gemini")
        pipeline.store.save(response)
        pipeline.producer.send(pipeline.topics.responses, query.query_id, response).result(
            timeout=SEND_TIMEOUT_S)  # fmt: skip

    def finished(self) -> QueryRequested:
        """The query answered, once the thread is done."""
        self.join(CLIENT_WAIT_S)
        assert self.query is not None
        return self.query


@pytest.fixture(scope="module")
def pipeline(
    kafka_bootstrap: str, kafka_security: KafkaSecurity, redis_url: str, database_url: str
) -> Iterator[Pipeline]:
    namespace = unique_namespace("streams")
    topics = TopicNames(namespace)
    create_topics(kafka_bootstrap, topics.specs(), security=kafka_security)
    port = free_port()
    env = infra_env(
        namespace,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        EMULATOR_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens: no provider calls
    )
    app = gunicorn_app("app-streams", env, port, workers=1)
    producer = kafka.test_producer(kafka_bootstrap).start()
    queries = TopicReader(kafka_bootstrap, topics.queries, QueryRequested)
    base_url = f"http://127.0.0.1:{port}"
    try:
        with running(app):
            app.wait_until(lambda: httpx.get(f"{base_url}/healthz", timeout=2).is_success,
                           APP_READY_TIMEOUT_S, "/healthz")  # fmt: skip
            key = test_key(database_url).key
            store = ResultStore(url=redis_url, keys=RedisKeys(namespace), ttl_s=RESULT_TTL_S)
            yield Pipeline(base_url, key, topics, producer, queries, store, app)
    finally:
        queries.close()
        producer.close()
        delete_namespace(kafka_bootstrap, redis_url, namespace)


def _attempt(number: int, part: str, text: str = "", offset: int = 0,
             **extra: Any) -> AnswerDelta:  # fmt: skip
    return AnswerDelta(
        analysis_id="x", query_id="x", part=part,  # type: ignore[arg-type]
        attempt_id=f"x:{number}", attempt_number=number,
        provider="gemini" if number == 1 else "perplexity",
        model="gemini-2.5-pro" if number == 1 else "sonar",
        offset=offset, text=text, **extra,
    )  # fmt: skip


ROUTING = AnswerDelta(analysis_id="x", query_id="x", part="routing")
FIRST = ANSWER[:10]
REST = ANSWER[10:]


def _sse(response: httpx.Response, shown: threading.Event) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    block: dict[str, str] = {}
    for line in response.iter_lines():
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(": ")
                block[name] = value
            continue
        if block:
            events.append((block["event"], json.loads(block["data"])))
            if block["event"] == "delta":
                shown.set()
        block = {}
    return events


def test_auto_streams_the_first_text_before_the_answer_exists_and_continues_without_restart(
    pipeline: Pipeline,
) -> None:
    script = [
        ROUTING,
        _attempt(1, "started", release="live"),
        _attempt(1, "text", FIRST[:6]),
        WAIT,
        _attempt(1, "text", FIRST[6:], offset=6),
        _attempt(1, "failed", error_kind="stream_truncated"),
        _attempt(2, "started", release="live", continues_attempt_id="x:1"),
        _attempt(2, "text", FIRST[6:] + REST[:5], offset=6),  # repeats what was shown
        _attempt(2, "text", REST[5:], offset=15),
        _attempt(2, "succeeded"),
    ]
    shown = threading.Event()
    dispatcher = pipeline.answer(script, shown)
    headers = {"Authorization": f"Bearer {pipeline.key}", "Accept": "text/event-stream"}
    with httpx.Client(base_url=pipeline.base_url, headers=headers, timeout=60) as client:
        with client.stream("POST", f"{API}/analyses", json={"query": QUESTION}) as response:
            assert response.status_code == 200, response.read()
            events = _sse(response, shown)
        query = dispatcher.finished()
        assert query.options.stream_mode == "auto" and dispatcher.shown_before_answer
        names = [name for name, _data in events]
        assert "restart" not in names and names[-1] == "done"
        text = "".join(data["text"] for name, data in events if name == "delta")
        assert text == ANSWER == events[-1][1]["result"]
        assert events[-1][1] == client.get(f"{API}/analyses/{query.query_id}",
                                           headers={"Accept": "application/json"}).json()


def _sdk(pipeline: Pipeline) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{pipeline.base_url}/v1", api_key=pipeline.key,
                         timeout=60, max_retries=0)  # fmt: skip


def _read_chunks(stream: Any, shown: threading.Event) -> list[str]:
    contents = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            contents.append(chunk.choices[0].delta.content)
            shown.set()
    return contents


def test_the_openai_sdk_gets_its_first_chunk_in_auto_mode_before_the_answer_exists(
    pipeline: Pipeline,
) -> None:
    script = [
        ROUTING,
        _attempt(1, "started", release="live"),
        _attempt(1, "text", FIRST),
        WAIT,
        _attempt(1, "text", REST, offset=len(FIRST)),
        _attempt(1, "succeeded"),
    ]
    shown = threading.Event()
    dispatcher = pipeline.answer(script, shown)
    stream = _sdk(pipeline).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": QUESTION}], stream=True)
    contents = _read_chunks(stream, shown)
    query = dispatcher.finished()
    assert query.options.stream_mode == "auto" and dispatcher.shown_before_answer
    assert contents == [FIRST, REST]


def test_a_held_attempt_that_fails_is_never_seen_by_the_sdk(pipeline: Pipeline) -> None:
    script = [
        ROUTING,
        _attempt(1, "started", release="attempt"),
        _attempt(1, "text", "Half an answ"),
        _attempt(1, "failed", error_kind="stream_truncated"),
        _attempt(2, "started", release="attempt"),
        _attempt(2, "text", FIRST),
        _attempt(2, "text", REST, offset=len(FIRST)),
        _attempt(2, "succeeded"),
    ]
    shown = threading.Event()
    dispatcher = pipeline.answer(script, shown)
    stream = _sdk(pipeline).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": QUESTION}], stream=True)
    assert _read_chunks(stream, shown) == [ANSWER]
    assert dispatcher.finished().options.stream_mode == "auto"


def test_a_restart_ends_the_sdk_stream_with_an_error_never_a_clean_end(
    pipeline: Pipeline,
) -> None:
    script = [
        ROUTING,
        _attempt(1, "started", release="live"),
        _attempt(1, "text", "Half an answ"),
        WAIT,
        _attempt(1, "failed", error_kind="stream_truncated"),
        _attempt(2, "started", release="live"),
        _attempt(2, "text", ANSWER),
        _attempt(2, "succeeded"),
    ]
    shown = threading.Event()
    dispatcher = pipeline.answer(script, shown)
    stream = _sdk(pipeline).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": QUESTION}], stream=True,
        extra_body={"x_stream_mode": "live"})  # fmt: skip
    with pytest.raises(openai.APIError, match="cannot take text back"):
        _read_chunks(stream, shown)
    assert dispatcher.finished().options.stream_mode == "live"
