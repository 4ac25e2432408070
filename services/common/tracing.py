"""Tracing: one OpenTelemetry trace per analysis, across the app and every Kafka hop.

Off unless the standard variables ask for it: `configure_tracing` installs the SDK with an
OTLP/HTTP exporter only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is
set and `OTEL_SDK_DISABLED` is not `true`; the SDK itself reads `OTEL_SERVICE_NAME`,
`OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES` and the exporter's own variables.
Switched off, every helper here returns at once and nothing is exported.

Propagation through Kafka is written by hand, here, because the maintained
confluent-kafka instrumentation wraps `Producer.produce` and `Consumer.poll` and makes
the polled message's span current on the polling thread, while our workers fetch
batches on one consumer thread and handle each message in an asyncio task of its own:
`EventProducer.send` calls `kafka_headers()` to write the current W3C context
(`traceparent`, `tracestate`, `baggage`) into each event's headers, and the worker runs
each message's task inside `consumed(...)`, a CONSUMER span continuing the context read
from the message's headers. A redelivered message carries the same headers, so it
continues the original trace (a second attempt at one step, never a second root).

Log lines carry the trace id and the analysis id (`log_context`); the analysis id is
bound once an event is decoded (`bind_analysis`) or an analysis is published.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Coroutine, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final, TypeVar

from confluent_kafka import Message
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

logger = logging.getLogger(__name__)

T = TypeVar("T")

ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
CAPTURE_CONTENT_VARIABLE: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
STANDARD_VARIABLES: Final = (
    *ENDPOINT_VARIABLES,
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SDK_DISABLED",
    CAPTURE_CONTENT_VARIABLE,
)
"""The OpenTelemetry variables a deployment sets (read by the SDK, not by our settings
classes: their names are the specification's, shared by every OpenTelemetry SDK)."""
TRACER_NAME: Final = "strategist"
PREFIX: Final = "strategist."
"""Our own span attributes live under this prefix (the GenAI ones in `genai_attributes`)."""
ANALYSIS_ID: Final = f"{PREFIX}analysis.id"
EXPORT_DELAY_VARIABLE: Final = "OTEL_BSP_SCHEDULE_DELAY"
EXPORT_DELAY_MS: Final = 500
"""How often the batch exporter sends what finished, unless `OTEL_BSP_SCHEDULE_DELAY`
says otherwise. The SDK's 5 s would lose the last 5 s of finished spans of a process
killed outright (SIGKILL, out of memory); a stopping process exports everything anyway.
An export costs about 0.9 ms of CPU plus 19 µs per span: at most two a second per busy
process, some 2 ms of CPU a second each (docs/tracing.md, "Cost")."""

_enabled = False
_capture_content = False
_analysis: ContextVar[str | None] = ContextVar("analysis_id", default=None)
_consuming: ContextVar[bool] = ContextVar("consuming", default=False)
_TRACER = trace.get_tracer(TRACER_NAME)
"""One tracer per process (a proxy that follows the provider `configure_tracing` sets)."""


def tracing_enabled() -> bool:
    """Whether this process exports spans (set once by `configure_tracing`)."""
    return _enabled


def capture_content() -> bool:
    """Whether prompts and answers may go into spans (off unless the GenAI variable says
    `true`: they are the campaigns' data)."""
    return _capture_content


def configure_tracing(service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Install the SDK and its OTLP exporter when the standard variables ask for it;
    `service_name` is the default for `OTEL_SERVICE_NAME`. Returns whether it did."""
    global _enabled, _capture_content
    env = os.environ if environ is None else environ
    _capture_content = env.get(CAPTURE_CONTENT_VARIABLE, "").strip().lower() == "true"
    if _enabled or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return _enabled
    endpoint = traces_endpoint(env)
    if endpoint is None:
        return False
    # Imported here: a process without an endpoint never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)  # the sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint),
                           schedule_delay_millis=export_delay_ms(env))
    )
    trace.set_tracer_provider(provider)
    _enabled = True
    logger.info("tracing on: exporting spans over OTLP/HTTP as %s", resource.attributes)
    return True


def traces_endpoint(env: Mapping[str, str]) -> str | None:
    """Where spans go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
    `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (the specification's rule); None: off."""
    traces, base = (env.get(name, "").strip() for name in ENDPOINT_VARIABLES[::-1])
    if traces:
        return traces
    return f"{base.rstrip('/')}/v1/traces" if base else None


def export_delay_ms(env: Mapping[str, str]) -> float:
    """`OTEL_BSP_SCHEDULE_DELAY` when it is a positive number of milliseconds, else ours."""
    try:
        given = float(env.get(EXPORT_DELAY_VARIABLE, "").strip())
    except ValueError:
        return EXPORT_DELAY_MS
    return given if given > 0 else EXPORT_DELAY_MS


def shutdown_tracing() -> None:
    """Export what is still buffered (a stopping process; the SDK also does it at exit)."""
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if _enabled and shutdown is not None:
        shutdown()


def tracer() -> trace.Tracer:
    """Our tracer (the global provider's; a proxy until one is set)."""
    return _TRACER


KafkaHeaders = list[tuple[str, str | bytes | None]]


@contextlib.contextmanager
def publishing(topic: str) -> Iterator[KafkaHeaders | None]:
    """The Kafka headers carrying the current context to the consumer (None when tracing
    is off). Outside a consumer (the app, the health service's own statuses) the publish
    is a PRODUCER span of its own; a service's outputs hang from its consumer span (or the
    step's span) directly: a span per publish would add a third of the spans per analysis,
    and their CPU, for no step a reader needs to see."""
    if not _enabled:
        yield None
        return
    if _consuming.get():  # a service's output: its consumer span is the publish's parent
        yield _current_headers()
        return
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": topic,
    }
    analysis_id = _analysis.get()
    if analysis_id is not None:
        attributes[ANALYSIS_ID] = analysis_id
    with tracer().start_as_current_span(
        f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        yield _current_headers()


def _current_headers() -> KafkaHeaders:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def message_context(message: Message) -> Any:
    """The trace context a consumed message carries in its headers (empty if none)."""
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    carrier = {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for name, value in pairs
        if value is not None
    }
    return propagate.extract(carrier)


def message_trace_id(message: Message) -> str | None:
    """The 32-hex-digit trace id in a message's `traceparent` header, if it has one."""
    context = trace.get_current_span(message_context(message)).get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def consumed(
    work: Coroutine[Any, Any, T], message: Message, service: str
) -> Coroutine[Any, Any, T]:
    """`work` (the handling of `message`) inside a CONSUMER span continuing the trace in
    the message's headers; `work` itself when tracing is off."""
    if not _enabled:
        return work
    return _consumed(work, message, service)


async def _consumed(work: Coroutine[Any, Any, T], message: Message, service: str) -> T:
    topic = message.topic() or ""
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(message.partition()),
        "messaging.kafka.offset": message.offset() or 0,
        "messaging.consumer.group.name": service,
    }
    consuming = _consuming.set(True)
    try:
        with tracer().start_as_current_span(
            f"process {topic}", context=message_context(message), kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):  # fmt: skip
            return await work
    finally:
        _consuming.reset(consuming)


def analysis_id_of(event: object) -> str | None:
    """The analysis an event belongs to: its own `analysis_id` or its query's."""
    for holder in (event, getattr(event, "query", None)):
        value = getattr(holder, "analysis_id", None)
        if isinstance(value, str):
            return value
    return None


def bind_analysis(event: object) -> None:
    """Name the analysis of `event` in this task's log lines and on its current span."""
    analysis_id = analysis_id_of(event)
    if analysis_id is None:
        return
    _analysis.set(analysis_id)
    if _enabled:
        trace.get_current_span().set_attribute(ANALYSIS_ID, analysis_id)


def clear_analysis() -> None:
    """Forget the bound analysis (a thread that serves the next request next)."""
    _analysis.set(None)


def current_span_context() -> trace.SpanContext:
    """The current span's context (invalid outside a trace)."""
    return trace.get_current_span().get_span_context()


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), or None outside a sampled trace."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


@contextlib.contextmanager
def step_span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
    """An INTERNAL span for one step of the pipeline (a no-op span when tracing is off)."""
    if not _enabled:
        yield trace.INVALID_SPAN
        return
    with tracer().start_as_current_span(name, attributes=dict(attributes or {})) as span:
        yield span


def linked_span(
    name: str, contexts: list[trace.SpanContext]
) -> contextlib.AbstractContextManager[Span]:
    """A span of work shared by several messages (a batch): it links their spans. A
    "batch" of one message is that message's own span's work: no second span for it."""
    if not _enabled or len(contexts) < 2:
        return contextlib.nullcontext(trace.INVALID_SPAN)
    links = [Link(context) for context in contexts if context.is_valid]
    # A root of its own: the batch belongs to every linked trace, not to the first one.
    return tracer().start_as_current_span(
        name,
        context=otel_context.Context(),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={f"{PREFIX}batch.size": len(contexts)},
    )


def mark_failed(span: Span, error_type: str, description: str | None = None) -> None:
    """Error status and `error.type` on `span` (the semantic conventions' failure)."""
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, description))


class LogContext(logging.Filter):
    """Adds `trace_id` and `analysis_id` to every record ("-" when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id() or "-"
        record.analysis_id = _analysis.get() or "-"
        return True


def log_context() -> logging.Filter:
    """The filter that puts the trace id and the analysis id on log records."""
    return LogContext()
