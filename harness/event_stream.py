"""Reading the strategist API's event stream as a client does, for bench and chaos.

`read_stream` reads one `text/event-stream` response to its end (or to `deadline`),
keeping each event's name, data and wall-clock arrival time, and `StreamRead` says what
a client made of it: the text shown (the deltas after the last `restart`), how the
stream ended (`done`, `error`, or neither: cut or left hanging), and whether the shown
text is exactly the answer of `done`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

SSE_HEADERS = {"Accept": "text/event-stream"}


@dataclass(frozen=True)
class StreamEvent:
    id: int | None
    name: str
    data: Any
    at: float
    """`time.time()` when the event's data line was read."""


@dataclass
class StreamRead:
    """One stream as read: its events, and how it ended."""

    events: list[StreamEvent] = field(default_factory=list)
    status: int = 0
    failure: str | None = None
    """Why the read stopped without a final event: a transport error, or "hanging"."""

    @property
    def final(self) -> str | None:
        """`done`, `error`, or None (the stream ended, or was given up, without one)."""
        last = self.events[-1].name if self.events else None
        return last if last in ("done", "error") else None

    @property
    def restarts(self) -> int:
        return sum(1 for e in self.events if e.name == "restart")

    @property
    def shown_deltas(self) -> list[StreamEvent]:
        """The `delta` events after the last `restart`: what the client shows."""
        shown: list[StreamEvent] = []
        for event in self.events:
            if event.name == "restart":
                shown = []
            elif event.name == "delta":
                shown.append(event)
        return shown

    @property
    def shown(self) -> str:
        return "".join(e.data["text"] for e in self.shown_deltas)

    @property
    def answer(self) -> dict[str, Any] | None:
        """`done`'s JSON (the analysis as `GET /analyses/<id>` returns it), if it came."""
        return self.events[-1].data if self.final == "done" else None

    @property
    def analysis_id(self) -> str | None:
        for event in self.events:
            if isinstance(event.data, dict) and event.data.get("analysis_id"):
                return str(event.data["analysis_id"])
        return None

    @property
    def last_event_id(self) -> int | None:
        ids = [e.id for e in self.events if e.id is not None]
        return ids[-1] if ids else None


def parse_block(lines: list[str], at: float) -> StreamEvent | None:
    """One event from its lines (`id:`, `event:`, `data:`); None for a comment-only block."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value[1:] if value.startswith(" ") else value
    if "data" not in fields:
        return None
    event_id = fields.get("id")
    return StreamEvent(
        id=int(event_id) if event_id and event_id.isdigit() else None,
        name=fields.get("event", "message"),
        data=json.loads(fields["data"]),
        at=at,
    )


async def read_stream(response: httpx.Response, read: StreamRead) -> None:
    """Append `response`'s events to `read` as they arrive, until the stream ends (bound it
    with `asyncio.timeout`: a stream left hanging never ends by itself)."""
    read.status = response.status_code
    block: list[str] = []
    at = 0.0
    async for line in response.aiter_lines():
        if line:
            if not block:
                at = time.time()
            block.append(line)
            continue
        event = parse_block(block, at) if block else None
        block = []
        if event is not None:
            read.events.append(event)
