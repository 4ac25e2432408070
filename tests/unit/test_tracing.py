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
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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
