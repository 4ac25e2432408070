"""The strategist API's event stream: its event names and their JSON, in one place.

`GET /api/v1/strategist/analyses/<id>/events` (and `POST /analyze`, `POST /analyses` with
`Accept: text/event-stream`) send server-sent events as the WHATWG spec writes them:
`id:`, `event:`, one `data:` line of JSON, a blank line; a comment line (`: keep-alive`)
while nothing happens. Ids are the event's position in the analysis's stream (1, 2, ...),
the same in every app process, so a client that reconnects with `Last-Event-ID: <n>`
gets event n + 1 onwards: nothing lost, nothing twice.

- `routing`: `RoutingData`, the classification and the route, as soon as dispatched
  (again for an escalation round);
- `attempt`: `AttemptData`, an attempt `started`, `succeeded`, `failed` (with its reason),
  or a route step `skipped`;
- `delta`: `{"text": ...}`, the next piece of the answer;
- `restart`: `RestartData`, discard every `delta` received so far, the answer starts
  again (a failover after text was shown to a model that could not continue it, or an
  escalated answer replacing the first; a continuation goes on with no `restart`);
- `confidence`: the response's `confidence` object, when scored;
- `done`: exactly the JSON of `GET /api/v1/strategist/analyses/<id>`, completed;
- `error`: the same JSON for a failed analysis (its HTTP error body), or `ErrorData`
  when the stream itself gave up.

The stream's last event is `done` or `error`; it never ends cleanly otherwise. The text of
`done` (`result`) equals the concatenation of the `delta`s after the last `restart`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

ROUTING: Final = "routing"
ATTEMPT: Final = "attempt"
DELTA: Final = "delta"
RESTART: Final = "restart"
CONFIDENCE: Final = "confidence"
DONE: Final = "done"
ERROR: Final = "error"
EVENT_NAMES: Final = (ROUTING, ATTEMPT, DELTA, RESTART, CONFIDENCE, DONE, ERROR)
FINAL_EVENTS: Final = (DONE, ERROR)

EVENT_STREAM: Final = "text/event-stream"
KEEP_ALIVE: Final = ": keep-alive\n\n"
STREAM_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoutingData(_Data):
    analysis_id: str
    classification: dict[str, Any] | None
    route: list[dict[str, Any]]
    escalation_round: int


class AttemptData(_Data):
    attempt_id: str
    attempt_number: int
    provider: str
    model: str
    status: Literal["started", "succeeded", "failed", "skipped"]
    error_kind: str | None = None
    error_message: str | None = None
    first_token_ms: float | None = None


class DeltaData(_Data):
    text: str


class RestartData(_Data):
    reason: str


class ErrorData(_Data):
    error: dict[str, str]
    """`{"code": ..., "message": ...}`, as the API's error bodies."""


@dataclass(frozen=True)
class StreamEvent:
    """One event of the stream: `id` is its position (1, 2, ...)."""

    id: int
    name: str
    data: dict[str, Any]

    def encode(self) -> str:
        payload = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        return f"id: {self.id}\nevent: {self.name}\ndata: {payload}\n\n"


class BadLastEventId(ValueError):
    """`Last-Event-ID` is not an id this stream sends."""


def last_event_id(header: str | None) -> int:
    """The position a reconnecting client has read up to (0: from the start).

    Raises BadLastEventId for anything but a non-negative integer."""
    if header is None or not header.strip():
        return 0
    text = header.strip()
    if not text.isdigit() or len(text) > 12:
        raise BadLastEventId(f"Last-Event-ID must be an id this stream sent, got {text[:40]!r}")
    return int(text)
