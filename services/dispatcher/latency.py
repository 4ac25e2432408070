"""Each model's observed latency in this process, and the limits derived from it.

The catalogue's limits are ceilings sized for the real services (a thinking model may
take 45 s to its first token). Once a model has answered often enough here, its
first-token limit and total deadline narrow to a multiple of what it really takes
(`providers.limits`), so a hung upstream that usually answers in one second is left in a
few seconds while a slow model keeps the room it needs. Only answers are observed: a
failure says nothing about how long a working call takes.
"""

from __future__ import annotations

import threading
from collections import deque

from providers.catalogue import ModelSpec
from providers.limits import first_token_limit_s, total_limit_s

OBSERVED_PER_MODEL = 200
"""Most recent answers kept per model (the distribution follows the provider's day)."""


class ObservedLatency:
    """model -> recent times to first token and to the whole answer; thread-safe."""

    def __init__(self, *, size: int = OBSERVED_PER_MODEL) -> None:
        self._size = size
        self._first_token: dict[str, deque[float]] = {}
        self._total: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, key: str, *, first_token_s: float | None, total_s: float) -> None:
        """One answer: its time to first token (None: the whole answer's) and in total."""
        with self._lock:
            self._first_token.setdefault(key, deque(maxlen=self._size)).append(
                total_s if first_token_s is None else first_token_s
            )
            self._total.setdefault(key, deque(maxlen=self._size)).append(total_s)

    def limits(self, key: str, spec: ModelSpec) -> tuple[float, float | None]:
        """(total deadline, first-token limit or None when the model has none)."""
        with self._lock:
            first = list(self._first_token.get(key, ()))
            total = list(self._total.get(key, ()))
        total_s = total_limit_s(spec, total)
        if spec.first_token_timeout_s is None:
            return total_s, None
        return total_s, min(first_token_limit_s(spec, first), total_s)
