"""The event stream of an analysis as an HTTP response (strategist API)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Request, Response, stream_with_context

from schemas.response import AnalysisResponded
from strategist.answers import shown_answer
from strategist.errors import ApiError
from strategist.runtime import current_runtime
from strategist.streams.events import (
    EVENT_STREAM,
    KEEP_ALIVE,
    STREAM_HEADERS,
    BadLastEventId,
    StreamEvent,
    last_event_id,
)
from strategist.streams.session import AnalysisStream, Finished


def wants_events(request: Request) -> bool:
    """True when the caller prefers `text/event-stream` to JSON (`Accept`)."""
    best = request.accept_mimetypes.best_match(["application/json", EVENT_STREAM])
    return best == EVENT_STREAM


def resume_position(request: Request) -> int:
    """`Last-Event-ID` (header, or `last_event_id` query parameter for clients that
    cannot set headers); 400 when it is not an id of this stream."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    try:
        return last_event_id(raw)
    except BadLastEventId as err:
        raise ApiError(400, "bad_last_event_id", str(err), field="Last-Event-ID") from err


def _finished(answer: AnalysisResponded) -> Finished:
    response = shown_answer(answer)
    body = response.get_json(silent=True)
    return Finished(response.status_code, body if isinstance(body, dict) else {})


def follow_deltas() -> None:
    """Start the process's deltas follower (once) and wait until it reads the topic's end,
    before a query goes out: its stream then comes from memory, nothing missed."""
    components = current_runtime().components
    if components.deltas is not None:
        components.deltas.start()
        components.deltas.wait_ready(components.settings.kafka_delivery_timeout_s)


def open_stream(analysis_id: str, skip: int) -> AnalysisStream:
    components = current_runtime().components
    assert components.deltas is not None
    return AnalysisStream(
        analysis_id=analysis_id,
        skip=skip,
        hub=components.deltas,
        waiter=components.waiter,
        result=components.store.result,
        archive=components.archive,
        deltas_topic=components.settings.infra.topics.answer_deltas,
        finished=_finished,
    )


def encoded(events: Iterator[StreamEvent | None]) -> Iterator[str]:
    """The stream's text; a comment first, so the status and headers go out at once (a
    server sends them with the first bytes of the body)."""
    yield KEEP_ALIVE
    for event in events:
        yield KEEP_ALIVE if event is None else event.encode()


def event_stream(analysis_id: str, skip: int = 0) -> Response:
    """`text/event-stream` of the analysis from position `skip` + 1."""
    stream = open_stream(analysis_id, skip)
    return Response(
        stream_with_context(encoded(stream.events())),
        mimetype=EVENT_STREAM,
        headers=STREAM_HEADERS,
    )
