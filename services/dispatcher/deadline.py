"""The time a query may spend on its route (its deadline), and what each attempt may take.

"Deadline" is time only; "budget" in the dispatcher is money (`budget_exhausted`, the
campaign's spend limit). The app waits `STRATEGIST_SYNC_TIMEOUT_S` (30 s) for an answer, so
a route that can run longer (the local model alone may take 30 s) answers nobody. Every
route gets a deadline (`DISPATCHER_ROUTE_BUDGET_S`, the setting `route_deadline_s`) below
the app's wait. Each later step keeps a reserve of its own limit, up to the
hosted cap, so an early step that hangs cannot starve the fallbacks; the last step gets
whatever is left.

Slow is not failed. A model whose client streams with a first-token limit
(`ModelSpec.first_token_timeout_s`) is detected as failing by that limit (silent), by its
stall limit (stopped mid-answer) or by an error, not by a short total cap: its first
token must come before the later steps' reserve is touched, but once it answers it may
keep streaming up to its own total deadline, leaving only the next step's reserve. A
model without a first-token limit is capped as before (`DISPATCHER_ATTEMPT_TIMEOUT_CAP_S`
for hosted ones), since nothing else tells a hung call from a slow one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_ATTEMPT_S = 0.5
"""An attempt shorter than this cannot answer; such a step is skipped for lack of time."""
DEADLINE_PASSED = "budget_spent"
"""`error_kind` of a step skipped because the route's deadline left it no time. The value
predates the word "deadline" and is kept as it is: the decision records and the API's
`attempts[].error_kind` carry it."""
HOSTED_PROVIDERS = frozenset({"gemini", "perplexity"})
"""Paid APIs whose attempts are capped for the failover promise; the local model is not."""


def own_limit_s(provider: str, model_timeout_s: float, hosted_cap_s: float) -> float:
    """A step's limit before the deadline: its model's timeout, capped for hosted providers."""
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


def worst_case_s(limits_s: Sequence[float], *, deadline_s: float, reserve_cap_s: float) -> float:
    """Total time of a route whose every attempt runs to its limit."""
    elapsed = 0.0
    for index, own in enumerate(limits_s):
        later = sum(reserve_s(limit, reserve_cap_s) for limit in limits_s[index + 1 :])
        limit = attempt_limit_s(own, later, deadline_s - elapsed)
        if limit < MIN_ATTEMPT_S:
            break
        elapsed += limit
    return elapsed


class Deadline:
    """A query's route deadline, `total_s` from construction on a monotonic clock."""

    def __init__(self, total_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = clock() + total_s

    def remaining_s(self) -> float:
        return max(self._ends - self._clock(), 0.0)


@dataclass(frozen=True)
class StepLimits:
    """A step's own limits before the deadline cuts them (`first_token_s` None: no streaming
    limit, the total is the only one)."""

    total_s: float
    first_token_s: float | None = None
    stall_s: float | None = None

    @property
    def detect_s(self) -> float:
        """How long this step takes to be known as failed when it is silent."""
        return self.total_s if self.first_token_s is None else min(self.first_token_s, self.total_s)


@dataclass(frozen=True)
class AttemptLimits:
    """What one attempt is given: the request's total deadline and its streaming limits."""

    total_s: float
    first_token_s: float | None = None
    stall_s: float | None = None


def step_limits(
    provider: str,
    *,
    timeout_s: float,
    first_token_s: float | None,
    stall_s: float | None,
    hosted_cap_s: float,
) -> StepLimits:
    """A model's own limits: streaming ones kept whole, a non-streaming hosted one capped."""
    if first_token_s is None:
        return StepLimits(own_limit_s(provider, timeout_s, hosted_cap_s))
    return StepLimits(timeout_s, min(first_token_s, timeout_s), stall_s)


def attempt_limits(
    own: StepLimits, later: Sequence[StepLimits], remaining_s: float, reserve_cap_s: float
) -> AttemptLimits:
    """The next attempt's limits within the deadline (see the module docstring).

    The first token (or, without streaming, the whole call) must come before every later
    step's reserve is touched; a streaming answer may then run on until only the next
    step's reserve is left. Raises nothing; a total below `MIN_ATTEMPT_S` means skip.
    """
    all_later_s = sum(reserve_s(step.detect_s, reserve_cap_s) for step in later)
    if own.first_token_s is None:
        return AttemptLimits(attempt_limit_s(own.total_s, all_later_s, remaining_s))
    next_s = reserve_s(later[0].detect_s, reserve_cap_s) if later else 0.0
    total_s = attempt_limit_s(own.total_s, next_s, remaining_s)
    first_token_s = min(attempt_limit_s(own.first_token_s, all_later_s, remaining_s), total_s)
    return AttemptLimits(total_s, first_token_s, own.stall_s)
