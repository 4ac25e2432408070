"""The provider calls running now, so the health stream's "down" can cut them short.

Each attempt runs as its own task, registered under its provider while it runs. When the
health stream marks a provider down (status_view.StatusFeed, on its follower thread),
`cancel_provider` cancels those tasks on the event loop: the walks see the attempt as
cancelled and move to their fallbacks at once instead of each waiting out its own limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)


class InFlightAttempts:
    """provider -> running attempt tasks. `cancel_provider` may be called from any thread."""

    def __init__(self) -> None:
        self._tasks: dict[str, set[asyncio.Task[Any]]] = {}
        self._cancelled: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def track(self, provider: str, task: asyncio.Task[Any]) -> Iterator[None]:
        """Register `task` under `provider` for the duration of the block (on the loop)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._tasks.setdefault(provider, set()).add(task)
        try:
            yield
        finally:
            with self._lock:
                self._tasks.get(provider, set()).discard(task)
                self._cancelled.discard(task)

    def was_cancelled(self, task: asyncio.Task[Any]) -> bool:
        """True when `task` was cut short by `cancel_provider` (not by a shutdown)."""
        with self._lock:
            return task in self._cancelled

    def count(self, provider: str) -> int:
        with self._lock:
            return len(self._tasks.get(provider, ()))

    def cancel_provider(self, provider: str) -> None:
        """Cancel every attempt running on `provider`; thread-safe, returns at once."""
        with self._lock:
            loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
            loop.call_soon_threadsafe(self._cancel, provider)

    def _cancel(self, provider: str) -> None:
        with self._lock:
            tasks = [t for t in self._tasks.get(provider, ()) if not t.done()]
            self._cancelled.update(tasks)
        if tasks:
            logger.warning(
                "provider=%s marked down: cancelling %d attempt(s) in flight", provider, len(tasks)
            )
        for task in tasks:
            task.cancel()
