"""Tracing plumbing: off without the OTEL_* variables; with them, the context crosses a
Kafka hop through the headers, a redelivered message continues its trace, log lines
name the trace and the analysis, and no prompt text is put on an attempt span."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from confluent_kafka import Message
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from providers.errors import ServerError
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.common import tracing
from services.common.logs import LOG_FORMAT
from services.common.tracing import (
    bind_analysis,
    configure_tracing,
    consumed,
    current_trace_id,
    log_context,
    message_trace_id,
    publishing,
)
from tests.unit.dispatcher_fakes import ScriptedProvider, make_dispatcher

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory (the global provider is set once per process)."""
    trace.set_tracer_provider(_PROVIDER)
    monkeypatch.setattr(tracing, "_enabled", True)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def test_without_an_endpoint_nothing_is_installed_and_no_header_is_written() -> None:
    assert configure_tracing("classifier", environ={}) is False
    assert configure_tracing("classifier", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) is False
    assert not tracing.tracing_enabled()
    with publishing("queries") as headers:
        assert headers is None


def test_sdk_disabled_wins_over_an_endpoint() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"}
    assert configure_tracing("classifier", environ=environ) is False


def _message(headers: list[tuple[str, str | bytes | None]] | None, offset: int = 7) -> Message:
    return Message(topic="ns.classified", partition=0, offset=offset, headers=headers)


def test_the_context_crosses_a_kafka_hop_and_a_redelivery_continues_it(
    traced: InMemorySpanExporter,
) -> None:
    with (
        trace.get_tracer("test").start_as_current_span("request") as request,
        publishing("ns.classified") as headers,
    ):
        pass
    assert headers is not None and dict(headers).keys() >= {"traceparent"}
    trace_id = trace.format_trace_id(request.get_span_context().trace_id)
    message = _message(headers)
    assert message_trace_id(message) == trace_id

    async def handle() -> str | None:
        return current_trace_id()

    first = asyncio.run(consumed(handle(), message, "dispatcher"))
    again = asyncio.run(consumed(handle(), _message(headers), "dispatcher"))  # redelivered
    assert first == again == trace_id
    spans = {s.name: s for s in traced.get_finished_spans()}
    send = spans["send ns.classified"]
    processes = [s for s in traced.get_finished_spans() if s.name == "process ns.classified"]
    assert len(processes) == 2
    assert all(p.parent is not None and p.parent.span_id == send.context.span_id for p in processes)
    assert all(p.kind is trace.SpanKind.CONSUMER for p in processes)


def test_a_message_without_a_context_starts_no_trace_of_its_own_when_tracing_is_off() -> None:
    async def handle() -> str | None:
        return current_trace_id()

    assert asyncio.run(consumed(handle(), _message(None), "dispatcher")) is None


def test_log_lines_carry_the_trace_id_and_the_analysis_id(traced: InMemorySpanExporter) -> None:
    class Event:
        analysis_id = "a" * 32

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with trace.get_tracer("test").start_as_current_span("step") as span:
        bind_analysis(Event())
        log_context().filter(record)
    line = logging.Formatter(LOG_FORMAT).format(record)
    trace_id = trace.format_trace_id(span.get_span_context().trace_id)
    assert line.endswith(f"hello trace={trace_id} analysis={'a' * 32}")
    tracing.clear_analysis()


def test_a_line_outside_any_trace_says_so() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    log_context().filter(record)
    assert logging.Formatter(LOG_FORMAT).format(record).endswith("trace=- analysis=-")


QUESTION = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"


def _dispatch_with_one_server_error() -> list[ReadableSpan]:
    gemini = ScriptedProvider("gemini", errors=[ServerError("gemini", "500 internal", 500)])
    dispatcher = make_dispatcher([gemini, ScriptedProvider("perplexity")])
    classified = classify(QueryRequested(query_id="q1", query=QUESTION))
    asyncio.run(dispatcher.handle(classified))
    return [s for s in _EXPORTER.get_finished_spans() if s.name.startswith("chat ")]


def test_each_attempt_is_a_genai_span_the_failed_one_with_its_error_and_no_prompt(
    traced: InMemorySpanExporter,
) -> None:
    with trace.get_tracer("test").start_as_current_span("process classified"):
        failed, answered = _dispatch_with_one_server_error()
    assert failed.parent is not None and answered.parent is not None
    assert failed.parent.span_id == answered.parent.span_id, "siblings"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["error.type"] == "server_error"
    attributes = answered.attributes or {}
    assert attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert attributes["gen_ai.request.model"] == attributes["gen_ai.response.model"]
    assert isinstance(tokens := attributes["gen_ai.usage.output_tokens"], int) and tokens > 0
    assert attributes["strategist.analysis.id"] == "q1"
    assert answered.status.status_code is not StatusCode.ERROR
    assert all(QUESTION not in str(value) for value in attributes.values())


def test_content_capture_puts_the_question_and_the_answer_on_the_span(
    traced: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "_capture_content", True)
    answered = _dispatch_with_one_server_error()[-1]
    attributes = answered.attributes or {}
    assert QUESTION in str(attributes["gen_ai.input.messages"])
    assert "assistant" in str(attributes["gen_ai.output.messages"])


def test_a_service_output_hangs_from_its_consumer_span_without_a_span_of_its_own(
    traced: InMemorySpanExporter,
) -> None:
    async def handle() -> tracing.KafkaHeaders | None:
        with publishing("ns.completions") as headers:
            return headers

    headers = asyncio.run(consumed(handle(), _message(None), "dispatcher"))
    [process] = traced.get_finished_spans()
    assert process.name == "process ns.classified"
    assert headers is not None
    assert message_trace_id(_message(headers)) == trace.format_trace_id(process.context.trace_id)
    assert f"-{trace.format_span_id(process.context.span_id)}-" in str(dict(headers)["traceparent"])


def test_the_scorer_spans_its_score_and_an_escalation_its_own_span(
    traced: InMemorySpanExporter,
) -> None:
    from tests.unit.test_scorer_escalation import Decisions, Results, _first, _halving, _scorer

    asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(_first()))
    spans = {s.name: s for s in traced.get_finished_spans()}
    assert set(spans) == {"score", "escalation"}
    score, escalation = (spans[name].attributes or {} for name in ("score", "escalation"))
    assert isinstance(confidence := score["strategist.confidence"], float) and confidence < 0.5
    assert escalation["strategist.escalated"] is True
    assert "below the escalation threshold" in str(escalation["strategist.escalation.reason"])


class _Writer:
    """Takes any rows (the batch's span is what is looked at)."""

    def write_records(self, records: object) -> None:
        pass


def test_a_batch_write_links_the_span_of_every_message_in_it(
    traced: InMemorySpanExporter,
) -> None:
    from services.recorder.group_commit import GroupCommit

    async def two_traces_one_transaction() -> list[trace.SpanContext]:
        batches = GroupCommit(writer=_Writer(), linger_s=0.5, enough_events=2)  # type: ignore[arg-type]

        async def consume(name: str) -> trace.SpanContext:
            with trace.get_tracer("test").start_as_current_span(name) as span:
                await batches.write([object()])  # type: ignore[list-item]
                return span.get_span_context()

        return list(await asyncio.gather(consume("a"), consume("b")))

    contexts = asyncio.run(two_traces_one_transaction())
    [write] = [s for s in traced.get_finished_spans() if s.name == "recorder write"]
    assert write.parent is None, "a root: the batch belongs to both traces"
    assert {link.context.span_id for link in write.links} == {c.span_id for c in contexts}
    assert len({c.trace_id for c in contexts}) == 2


def test_finished_spans_are_sent_twice_a_second_unless_the_standard_variable_says() -> None:
    # A process killed outright loses only what finished in the last export delay.
    assert tracing.export_delay_ms({}) == tracing.EXPORT_DELAY_MS == 500
    assert tracing.export_delay_ms({"OTEL_BSP_SCHEDULE_DELAY": "5000"}) == 5000
    assert tracing.export_delay_ms({"OTEL_BSP_SCHEDULE_DELAY": "soon"}) == 500
    assert tracing.export_delay_ms({"OTEL_BSP_SCHEDULE_DELAY": "0"}) == 500
