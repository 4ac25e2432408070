"""The time a query may spend on its route, and what each attempt may take of it.

The app waits `STRATEGIST_SYNC_TIMEOUT_S` (30 s) for an answer, so a route that can run
longer (the local model alone may take 30 s) answers nobody. Every route gets a total
budget below that deadline. Each attempt's limit is its model's own timeout (hosted ones
capped for the 5 s failover), cut so that every later step keeps a reserve of its own
limit up to the hosted cap: an early step that hangs cannot starve the fallbacks, and
the last step gets whatever is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

MIN_ATTEMPT_S = 0.5
"""An attempt shorter than this cannot answer; such a step is skipped for lack of budget."""
HOSTED_PROVIDERS = frozenset({"gemini", "perplexity"})
"""Paid APIs whose attempts are capped for the failover promise; the local model is not."""


def own_limit_s(provider: str, model_timeout_s: float, hosted_cap_s: float) -> float:
    """A step's limit before the budget: its model's timeout, capped for hosted providers."""
    return min(model_timeout_s, hosted_cap_s) if provider in HOSTED_PROVIDERS else model_timeout_s


def reserve_s(limit_s: float, reserve_cap_s: float) -> float:
    """What a later step keeps back from the steps before it."""
    return min(limit_s, reserve_cap_s)


def attempt_limit_s(own_limit_s: float, later_reserve_s: float, remaining_s: float) -> float:
    """What the next attempt may take: its own limit, less what the later steps keep back.

    Never below `MIN_ATTEMPT_S` on account of the reserve, never above `remaining_s`
    (which may itself be below `MIN_ATTEMPT_S`: the caller then skips the step).
    """
    spare_s = remaining_s - later_reserve_s
    return max(min(own_limit_s, max(spare_s, MIN_ATTEMPT_S), remaining_s), 0.0)


def worst_case_s(limits_s: Sequence[float], *, budget_s: float, reserve_cap_s: float) -> float:
    """Total time of a route whose every attempt runs to its limit."""
    elapsed = 0.0
    for index, own in enumerate(limits_s):
        later = sum(reserve_s(limit, reserve_cap_s) for limit in limits_s[index + 1 :])
        limit = attempt_limit_s(own, later, budget_s - elapsed)
        if limit < MIN_ATTEMPT_S:
            break
        elapsed += limit
    return elapsed


class Deadline:
    """A query's route budget, counted on a monotonic clock from construction."""

    def __init__(self, budget_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = clock() + budget_s

    def remaining_s(self) -> float:
        return max(self._ends - self._clock(), 0.0)
