"""Merge an attempt's text pieces that arrive within a few milliseconds into one delta event.

Each delta is an event on the broker: a pydantic model built, serialised, produced and
acknowledged. A provider SDK often hands over several pieces read from one network read
(microseconds apart), and a fast model writes faster than anyone reads; publishing them
one by one costs the dispatcher, the broker and every app process following the topic
per piece. The rule here never delays a piece that comes alone:

- the attempt's first piece is sent at once (the time to first token never waits);
- a piece arriving `window_s` or more after the last event sent is sent at once;
- a piece arriving sooner is held, with any others that follow, until `window_s` after
  the last event sent, then they go as one event carrying the first held piece's arrival
  time (so a reader measuring delay from the event's own timestamp sees what was added).

`flush` sends what is held at once: the attempt's end calls it before its `succeeded` or
`failed` event, so the end always follows every piece of text. A window of 0 sends every
piece at once (no coalescing). Runs on the dispatcher's event loop (the provider clients
call `on_text` there), so the held text needs no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from schemas.base import utc_now

SendText = Callable[[str, datetime], None]
"""Publishes one text delta: its text and when its first piece arrived."""

DEFAULT_COALESCE_MS = 5.0
"""The dispatcher's default window (DISPATCHER_DELTA_COALESCE_MS); docs/performance.md
("Delta coalescing") has the measurements behind it."""

_process_window_s = DEFAULT_COALESCE_MS / 1000.0


def configure(window_ms: float) -> None:
    """Set the process's window once at start-up (`python -m services.dispatcher`): the
    route walk builds a publisher per query, and the window is a process-wide setting."""
    global _process_window_s
    _process_window_s = max(window_ms, 0.0) / 1000.0


def process_window_s() -> float:
    return _process_window_s


class DeltaCoalescer:
    """One attempt's text pieces in, fewer text deltas out (see the module's rule)."""

    def __init__(self, send: SendText, *, window_s: float | None = None) -> None:
        self._send = send
        self._window_s = process_window_s() if window_s is None else window_s
        self._held: list[str] = []
        self._held_since: datetime | None = None
        self._last_sent: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, piece: str) -> None:
        """A piece of text just read from the provider."""
        now = time.monotonic()
        if not self._held and (
            self._window_s <= 0
            or self._last_sent is None
            or now - self._last_sent >= self._window_s
        ):
            self._emit(piece, utc_now(), now)
            return
        if not self._held:
            self._held_since = utc_now()
            assert self._last_sent is not None
            delay = max(self._last_sent + self._window_s - now, 0.0)
            self._timer = asyncio.get_running_loop().call_later(delay, self.flush)
        self._held.append(piece)

    def flush(self) -> None:
        """Send what is held now (the attempt ends, or the window is over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._held:
            text, self._held = "".join(self._held), []
            assert self._held_since is not None
            self._emit(text, self._held_since, time.monotonic())

    def _emit(self, text: str, arrived: datetime, now: float) -> None:
        self._last_sent = now
        self._send(text, arrived)
