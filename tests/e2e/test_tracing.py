"""End to end: one analysis is one OpenTelemetry trace, from the caller's `traceparent`
through the app, every Kafka hop and the five services, to an OTLP endpoint.

A stack of its own (the five services and one app) exports to an in-process OTLP/HTTP
receiver (`tests/support/otlp_receiver.py`); each test sends one analysis with a known
`traceparent` and reads the spans the receiver decoded.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
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
from tests.e2e.stack import API, APP_READY_TIMEOUT_S, SERVICE_READY_TIMEOUT_S, _ok
from tests.support.keys import test_key
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


@dataclass
class TracedStack:
    namespace: str
    env: dict[str, str]
    receiver: OtlpReceiver
    services: dict[str, ManagedProcess]
    client: httpx.Client
    emulator: EmulatorControl


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
    with running_receiver() as receiver:
        env = infra_env(
            namespace,
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            REDIS_URL=redis_url,
            DATABASE_URL=database_url,
            EMULATOR_URL=emulator.base_url,
            LOCAL_MODEL_URL=local_model_url,
            STRATEGIST_SYNC_TIMEOUT_S="60",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="200",
        )
        env.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
        services = {
            name: python_module(name, f"services.{name}", {**env, "SERVICE_INSTANCE_ID": "1"})
            for name in SERVICES
        }
        port = free_port()
        app = gunicorn_app("app-traced", env, port, workers=1)
        key = test_key(database_url, f"{namespace}-admin")
        base_url = f"http://127.0.0.1:{port}"
        with (
            running(*services.values(), app),
            httpx.Client(base_url=base_url, timeout=120, headers=key.header) as client,
        ):
            for name in ("classifier", "dispatcher", "scorer"):
                services[name].wait_for_log(" assigned ", SERVICE_READY_TIMEOUT_S)
            app.wait_until(functools.partial(_ok, f"{base_url}/healthz"), APP_READY_TIMEOUT_S, "up")
            yield TracedStack(namespace, env, receiver, services, client, emulator)


def _analyze(stack: TracedStack) -> tuple[str, str, httpx.Response]:
    """One analysis sent with a fresh `traceparent`: (trace id, caller's span id, reply)."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
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
    dispatcher = stack.services["dispatcher"]
    before = _gemini_calls(stack.emulator)
    stack.emulator.set_mode("gemini", "hang")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            sent = pool.submit(_analyze, stack)
            deadline = time.monotonic() + 60
            while _gemini_calls(stack.emulator) <= before:  # the attempt is in flight
                assert time.monotonic() < deadline, "the dispatcher never called Gemini"
                time.sleep(0.1)
            dispatcher.kill()  # the classified query's offset is not committed
        finally:
            stack.emulator.set_mode("gemini", "ok")
        dispatcher.start()
        trace_id, caller, _reply = sent.result(timeout=120)
    spans = stack.receiver.wait_for(trace_id, _complete, TRACE_TIMEOUT_S)
    # No second root: every span continues the caller's trace. (The killed dispatcher's
    # own spans were never exported, so what consumed its "started" event has a parent
    # the receiver never saw.)
    assert all(s.parent_span_id for s in spans), [s for s in spans if not s.parent_span_id]
    by_id = {s.span_id: s for s in spans}
    redelivered = [s for s in spans if s.service == "dispatcher" and s.kind == KIND_CONSUMER]
    assert redelivered and all(by_id[s.parent_span_id].service == "classifier" for s in redelivered)
    assert _attempts(spans), "the restarted dispatcher's attempt is in the trace"


def _gemini_calls(emulator: EmulatorControl) -> int:
    """Completion calls Gemini received (the health service's probes not counted)."""
    by_endpoint = emulator.state()["gemini"]["by_endpoint"]
    return sum(count for endpoint, count in by_endpoint.items() if endpoint != "probe")
