"""Per-model time limits derived from the model's own observed latency.

The catalogue's limits are static ceilings sized for the real services (a thinking model
may take 45 s to its first token). Where the model's latency has been observed (attempt
events, or a rolling window the dispatcher keeps), the limit narrows to a multiple of its
95th percentile, so a hung upstream that usually answers in 1 s is left after a few
seconds, while a slow but working model keeps its room. Never below a floor (a short
network blip is not a failure), never above the catalogue's ceiling.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence

from providers.catalogue import ModelSpec

LATENCY_QUANTILE = 0.95
LIMIT_FACTOR = 3.0
"""Limit = this times the observed 95th percentile: room for a slow tail, not a hang."""
FIRST_TOKEN_FLOOR_S = 2.0
TOTAL_FLOOR_S = 4.0
MIN_SAMPLES = 20
"""Fewer observations than this: the catalogue's ceiling applies unchanged."""
WINDOW_SIZE = 200
"""Observations kept per model: recent enough to follow a provider's slow days."""


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile by the nearest-rank method; raises ValueError on no values."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _derived(observed_s: Sequence[float], ceiling_s: float, floor_s: float) -> float:
    if len(observed_s) < MIN_SAMPLES:
        return ceiling_s
    return min(ceiling_s, max(floor_s, LIMIT_FACTOR * quantile(observed_s, LATENCY_QUANTILE)))


def first_token_limit_s(spec: ModelSpec, observed_first_token_s: Sequence[float]) -> float:
    """The first-token limit for `spec` given its observed times to first token."""
    return _derived(observed_first_token_s, spec.first_token_limit_s, FIRST_TOKEN_FLOOR_S)


def total_limit_s(spec: ModelSpec, observed_total_s: Sequence[float]) -> float:
    """The total deadline for `spec` given its observed times to the whole answer."""
    return _derived(observed_total_s, spec.timeout_s, TOTAL_FLOOR_S)


class ObservedLatency:
    """A rolling window of each model's successful latencies, and the limits they give.

    Thread-safe. Record each success's `ProviderReply.first_token_s` and total; failures
    are not latencies (a hang recorded at its limit would stretch the next limit).
    """

    def __init__(self, size: int = WINDOW_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._first: dict[tuple[str, str], deque[float]] = {}
        self._total: dict[tuple[str, str], deque[float]] = {}

    def record(self, spec: ModelSpec, *, first_token_s: float | None, total_s: float) -> None:
        key = (spec.provider, spec.model_id)
        with self._lock:
            totals = self._total.setdefault(key, deque(maxlen=self._size))
            totals.append(total_s)
            if first_token_s is not None:
                self._first.setdefault(key, deque(maxlen=self._size)).append(first_token_s)

    def first_token_limit_s(self, spec: ModelSpec) -> float:
        with self._lock:
            observed = list(self._first.get((spec.provider, spec.model_id), ()))
        return first_token_limit_s(spec, observed)

    def total_limit_s(self, spec: ModelSpec) -> float:
        with self._lock:
            observed = list(self._total.get((spec.provider, spec.model_id), ()))
        return total_limit_s(spec, observed)
