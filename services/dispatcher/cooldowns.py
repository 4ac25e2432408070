"""Providers that asked us to wait (`Retry-After`), and until when: one table per process.

A 429 with `Retry-After` speaks for the provider account, not for one query, so every
query in this dispatcher skips that provider until the time is up instead of spending
an attempt on a certain refusal. In-process only: another dispatcher instance learns
it from its own first 429 (and the health service reports the provider degraded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class ProviderCooldowns:
    """provider -> monotonic time until which it is not called; thread-safe."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self, provider: str, seconds: float) -> None:
        """Skip `provider` for `seconds` from now (a later end wins over an earlier one)."""
        until = self._clock() + max(seconds, 0.0)
        with self._lock:
            if until > self._until.get(provider, 0.0):
                self._until[provider] = until

    def remaining_s(self, provider: str) -> float:
        """Seconds left before `provider` may be called again; 0.0 when it may be now."""
        with self._lock:
            until = self._until.get(provider)
        if until is None:
            return 0.0
        return max(until - self._clock(), 0.0)
