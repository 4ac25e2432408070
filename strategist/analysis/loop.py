"""One asyncio event loop per process, in a daemon thread, for the async provider clients.

Flask handlers are synchronous; the provider SDK clients are async and keep an
HTTP connection pool bound to the loop they first ran on. So every coroutine of
this process runs on one long-lived loop (not `asyncio.run` per call, which
would strand the pool on a closed loop). The thread starts on first use, so
nothing runs before gunicorn forks its workers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
STOP_JOIN_TIMEOUT_S = 2.0


class LoopRunner:
    """Runs coroutines from any thread on this process's background loop."""

    def __init__(self, *, name: str = "strategist-asyncio") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._serve, args=(loop,), name=self._name, daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run `coro` on the loop and wait for it; raises TimeoutError after `timeout_s`
        (the coroutine is cancelled) or whatever the coroutine raised."""
        future = self.submit(coro)
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError as err:
            future.cancel()
            raise TimeoutError(f"no result within {timeout_s:.1f}s") from err

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=STOP_JOIN_TIMEOUT_S)
