"""End to end: one analysis is one OpenTelemetry trace, from the caller's `traceparent`
through the app, every Kafka hop and the five services, to an OTLP endpoint.

A stack of its own (the five services and one app, with a database of its own) exports
to an in-process OTLP/HTTP receiver (`tests/support/otlp_receiver.py`) at the processes'
default export delay; each test sends one analysis with a known `traceparent` and reads
the spans the receiver decoded, or the trace id the recorder and the console show.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from harness.emulator_process import EmulatorControl
from harness.processes import (
    ManagedProcess,
    free_port,
    gunicorn_app,
    infra_env,
    python_module,
    running,
    unique_namespace,
)
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from services.recorder.rebuild import rebuild
from services.recorder.settings import RecorderSettings
from tests.e2e.stack import API, APP_READY_TIMEOUT_S, SERVICE_READY_TIMEOUT_S, _ok
from tests.support.databases import fresh_database, plain_url
from tests.support.keys import IssuedKey, test_key
from tests.support.otlp_receiver import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_SERVER,
    STATUS_ERROR,
    OtlpReceiver,
    ReceivedSpan,
    running_receiver,
)

pytestmark = pytest.mark.e2e

SERVICES = ("classifier", "dispatcher", "scorer", "health", "recorder")
APP = "strategist"
STRATEGY = (
    "Design a 3-phase persuasion strategy from these crosstabs for rural voters in "
    "Pennsylvania, weighing the trade-offs of each phase"
)
"""Routed to Gemini first (a complex analysis)."""
TRACE_TIMEOUT_S = 60.0
RECORD_TIMEOUT_S = 60.0
TRACE_UI = "http://jaeger.test:16686/trace/{trace_id}"
"""The console links a trace id to this (STRATEGIST_TRACE_URL_TEMPLATE)."""


@dataclass
class TracedStack:
    namespace: str
    env: dict[str, str]
    receiver: OtlpReceiver
    services: dict[str, ManagedProcess]
    client: httpx.Client
    emulator: EmulatorControl
    database_url: str
    key: IssuedKey


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str,
    redis_url: str,
    database_url: str,
    emulator: EmulatorControl,
    local_model_url: str,
) -> Iterator[TracedStack]:
    namespace = unique_namespace("trace")
    create_topics(
        kafka_bootstrap, TopicNames(namespace).specs(), security=InfraSettings().kafka_security
    )
    with running_receiver() as receiver, fresh_database(database_url, "trace") as records:
        env = infra_env(
            namespace,
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            REDIS_URL=redis_url,
            DATABASE_URL=records,
            EMULATOR_URL=emulator.base_url,
            LOCAL_MODEL_URL=local_model_url,
            STRATEGIST_SYNC_TIMEOUT_S="60",
            STRATEGIST_CONSOLE__SECRET_KEY=secrets.token_hex(32),
            STRATEGIST_TRACE_URL_TEMPLATE=TRACE_UI,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        )
        for default in ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                        "OTEL_BSP_SCHEDULE_DELAY"):
            env.pop(default, None)
        services = {
            name: python_module(name, f"services.{name}", {**env, "SERVICE_INSTANCE_ID": "1"})
            for name in SERVICES
        }
        port = free_port()
        app = gunicorn_app("app-traced", env, port, workers=1)
        key = test_key(records, f"{namespace}-admin")
        base_url = f"http://127.0.0.1:{port}"
        with (
            running(*services.values(), app),
            httpx.Client(base_url=base_url, timeout=120, headers=key.header) as client,
        ):
            for name in ("classifier", "dispatcher", "scorer"):
                services[name].wait_for_log(" assigned ", SERVICE_READY_TIMEOUT_S)
            app.wait_until(functools.partial(_ok, f"{base_url}/healthz"), APP_READY_TIMEOUT_S, "up")
            yield TracedStack(namespace, env, receiver, services, client, emulator, records, key)


def _analyze(stack: TracedStack, trace_id: str = "") -> tuple[str, str, httpx.Response]:
    """One analysis sent with a `traceparent` of `trace_id` (a fresh one by default):
    (trace id, caller's span id, reply)."""
    trace_id, parent_id = trace_id or secrets.token_hex(16), secrets.token_hex(8)
    reply = stack.client.post(
        f"{API}/analyze",
        json={"query": STRATEGY},
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    assert reply.status_code == 200, reply.text
    return trace_id, parent_id, reply


def _complete(spans: list[ReceivedSpan]) -> bool:
    """Every process has exported its part: the app's request, each service's consumption
    (the recorder's of the response, the last event), the scorer's score."""
    services = {s.service for s in spans if s.kind in (KIND_SERVER, KIND_CONSUMER)}
    recorded = any(s.service == "recorder" and "responses" in s.name for s in spans)
    return services >= {APP, *SERVICES} and recorded and any(s.name == "score" for s in spans)


def _attempts(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in spans if s.kind == KIND_CLIENT and s.name.startswith("chat ")]


def _assert_one_tree(spans: list[ReceivedSpan], caller_span_id: str) -> None:
    """One root, the app's request span, a child of the caller's span; every other span's
    parent is in the trace."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_span_id not in ids]
    assert [(r.service, r.kind, r.parent_span_id) for r in roots] == [
        (APP, KIND_SERVER, caller_span_id)
    ], roots


def test_one_analysis_is_one_trace_across_the_app_and_every_service(stack: TracedStack) -> None:
    trace_id, caller, reply = _analyze(stack)
    spans = stack.receiver.wait_for(trace_id, _complete, TRACE_TIMEOUT_S)
    _assert_one_tree(spans, caller)
    by_id = {s.span_id: s for s in spans}
    for service in SERVICES:  # each consumes an event another process published
        consumed = [s for s in spans if s.service == service and s.kind == KIND_CONSUMER]
        assert consumed, service
        publishers = {by_id[s.parent_span_id].service for s in consumed}
        assert service not in publishers, (service, publishers)
    analysis_id = reply.json()["analysis_id"]
    [attempt] = _attempts(spans)
    assert by_id[attempt.parent_span_id].service == "dispatcher"
    assert attempt.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert attempt.attributes["gen_ai.request.model"] == attempt.attributes["gen_ai.response.model"]
    assert attempt.attributes["gen_ai.usage.output_tokens"] > 0
    assert attempt.attributes["strategist.analysis.id"] == analysis_id
    assert attempt.status_code != STATUS_ERROR
    score = next(s for s in spans if s.name == "score")
    assert 0.0 <= score.attributes["strategist.confidence"] <= 1.0
    # `audit show` names the trace, read from the query event's headers.
    shown = subprocess.run(
        [sys.executable, "-m", "audit", "show", analysis_id, "--format", "json"],
        env=stack.env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(shown.stdout)["analyses"][0]["trace_id"] == trace_id
    # No prompt nor answer text leaves the process by default.
    answer = reply.json()["result"]
    for span in stack.receiver.spans():
        assert STRATEGY.encode() not in span.raw
        assert answer[:40].encode() not in span.raw


def test_the_record_and_the_console_name_the_trace_and_a_rebuild_keeps_it(
    stack: TracedStack, kafka_bootstrap: str, database_url: str,
) -> None:
    trace_id, _caller, reply = _analyze(stack)
    analysis_id = reply.json()["analysis_id"]
    live = _wait_for_traces(stack.database_url, analysis_id)
    assert live[analysis_id] == trace_id  # from the query event's `traceparent` header
    # The console's analysis page names it, linked to the configured tracing UI.
    shown = _trace_on_page(stack, analysis_id)
    assert shown == (trace_id, TRACE_UI.replace("{trace_id}", trace_id))
    # Rebuilt from the topics, every analysis has the trace id the live recorder wrote.
    with fresh_database(database_url, "trace_rebuild") as rebuilt:
        settings = RecorderSettings(
            database_url=rebuilt,  # type: ignore[arg-type]
            infra=InfraSettings(
                kafka_bootstrap_servers=kafka_bootstrap, topic_namespace=stack.namespace
            ),
        )
        rebuild(settings)
        again = _traces(rebuilt)
    assert {analysis: again.get(analysis) for analysis in live} == live


def _traces(database_url: str) -> dict[str, str | None]:
    """Every recorded analysis's trace id, by analysis id."""
    with psycopg.connect(plain_url(database_url)) as connection:
        rows = connection.execute("SELECT analysis_id, trace_id FROM analyses").fetchall()
    return dict(rows)


def _wait_for_traces(database_url: str, analysis_id: str) -> dict[str, str | None]:
    """`_traces` once the recorder has recorded the query of `analysis_id`."""
    deadline = time.monotonic() + RECORD_TIMEOUT_S
    while (found := _traces(database_url)).get(analysis_id) is None:
        assert time.monotonic() < deadline, f"no trace id recorded for {analysis_id}: {found}"
        time.sleep(0.3)
    return found


def _trace_on_page(stack: TracedStack, analysis_id: str) -> tuple[str, str | None]:
    """(text, link) of the page's `trace-id` element, signed in as the stack's key."""
    with httpx.Client(base_url=str(stack.client.base_url), timeout=60) as browser:
        form = browser.get("/console/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, form
        signed = browser.post(
            "/console/login", data={"api_key": stack.key.key, "csrf_token": token[1]}
        )
        assert signed.status_code == 302, signed.text
        page = browser.get(f"/console/analyses/{analysis_id}")
    assert page.status_code == 200, page.text
    element = re.search(r'data-testid="trace-id">(.*?)</code>', page.text, re.DOTALL)
    assert element, page.text
    link = re.search(r'href="([^"]+)"', element[1])
    return re.sub(r"<[^>]+>", "", element[1]).strip(), link[1] if link else None


def test_a_failover_shows_two_sibling_attempts_the_failed_one_with_its_error(
    stack: TracedStack,
) -> None:
    stack.emulator.set_mode("gemini", "cut")
    try:
        trace_id, caller, _reply = _analyze(stack)
    finally:
        stack.emulator.set_mode("gemini", "ok")
    spans = stack.receiver.wait_for(trace_id, _complete, TRACE_TIMEOUT_S)
    _assert_one_tree(spans, caller)
    attempts = _attempts(spans)
    assert len(attempts) >= 2, [(a.name, a.status_code) for a in attempts]
    assert len({a.parent_span_id for a in attempts}) == 1, "siblings under one dispatch"
    failed = [a for a in attempts if a.status_code == STATUS_ERROR]
    assert failed and failed[0].attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert failed[0].attributes["error.type"]
    assert attempts[-1].status_code != STATUS_ERROR
    # The dispatcher's log line about the failed attempt names the trace and the analysis.
    failure_lines = [
        line for line in stack.services["dispatcher"].log_tail(400).splitlines()
        if f"trace={trace_id}" in line
    ]  # fmt: skip
    assert failure_lines and all(" analysis=" in line for line in failure_lines)


def test_a_query_redelivered_after_a_dispatcher_kill_stays_in_its_trace(
    stack: TracedStack,
) -> None:
    """Gemini's answer is cut and Sonar hangs: the dispatcher is killed in Sonar's call,
    once Gemini's failed attempt span has finished and reached the receiver (within the
    default export delay, while the process still works); the query is redelivered."""
    dispatcher = stack.services["dispatcher"]
    before = _completion_calls(stack.emulator, "perplexity")
    stack.emulator.set_mode("gemini", "cut")
    stack.emulator.set_mode("perplexity", "hang")
    trace_id = secrets.token_hex(16)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            sent = pool.submit(_analyze, stack, trace_id)
            deadline = time.monotonic() + 60
            while _completion_calls(stack.emulator, "perplexity") <= before:  # Sonar's turn
                assert time.monotonic() < deadline, "the dispatcher never failed over to Sonar"
                time.sleep(0.1)
            failed = stack.receiver.wait_for(
                trace_id, lambda spans: bool(_failed_attempts(spans)), TRACE_TIMEOUT_S
            )
            dispatcher.kill()  # the classified query's offset is not committed
        finally:
            stack.emulator.set_mode("gemini", "ok")
            stack.emulator.set_mode("perplexity", "ok")
        dispatcher.start()
        _trace_id, caller, _reply = sent.result(timeout=120)
    before_kill = _failed_attempts(failed)[0]
    assert before_kill.attributes["gen_ai.provider.name"] == "gcp.gemini"
    lost = before_kill.parent_span_id  # the killed run's consumer span: in flight, lost

    def settled(spans: list[ReceivedSpan]) -> bool:
        return _complete(spans) and _missing_parents(spans) <= {caller, lost}

    spans = stack.receiver.wait_for(trace_id, settled, TRACE_TIMEOUT_S)
    # One trace, one root: only the spans in flight at the kill are lost, and what hangs
    # from them is the attempt that finished before the kill (exported while the process
    # still worked) and the consumptions of the `started` events the killed run published.
    assert _missing_parents(spans) == {caller, lost}
    orphans = [s for s in spans if s.parent_span_id == lost]
    assert before_kill in orphans
    started = f"process {TopicNames(stack.namespace).provider_attempts}"
    assert all(s in _failed_attempts(spans) or (
        s.kind == KIND_CONSUMER and s.service in ("health", "recorder") and s.name == started
    ) for s in orphans), [(s.service, s.name) for s in orphans]  # fmt: skip
    by_id = {s.span_id: s for s in spans}
    redelivered = [s for s in spans if s.service == "dispatcher" and s.kind == KIND_CONSUMER]
    assert redelivered and all(by_id[s.parent_span_id].service == "classifier" for s in redelivered)
    restarted = [a for a in _attempts(spans) if a.parent_span_id != lost]
    assert any(a.status_code != STATUS_ERROR for a in restarted), "the redelivered answer"


def _missing_parents(spans: list[ReceivedSpan]) -> set[str]:
    """Parent span ids that no span of `spans` has (the caller's, and any lost span's)."""
    return {s.parent_span_id for s in spans} - {s.span_id for s in spans}


def _failed_attempts(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in _attempts(spans) if s.status_code == STATUS_ERROR]


def _completion_calls(emulator: EmulatorControl, provider: str) -> int:
    """Completion calls `provider` received (the health service's probes not counted)."""
    by_endpoint = emulator.state()[provider]["by_endpoint"]
    return sum(count for endpoint, count in by_endpoint.items() if endpoint != "probe")
