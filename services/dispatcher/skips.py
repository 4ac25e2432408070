"""Why a step of a route is skipped rather than attempted, and the step tried anyway.

A step is skipped when this process cannot call its model (the dispatcher's catalogue
lacks it, or its provider has no client: catalogues that differ between processes), its
provider asked us to wait (Retry-After), the health stream marks it down, its circuit is
open (circuits.py), or an earlier model refused the input as too long for a window no
smaller than this one's. When every callable step is unavailable, one is tried anyway
(`forced_step`): a false alarm must not stop all traffic. The route walk (route_walk.py)
asks these questions step by step; the skipped step's summary says why in plain words.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from providers.base import Provider
from providers.catalogue import Catalogue
from providers.errors import ContextTooLong
from schemas.base import ProviderName
from schemas.classified import RouteStep
from schemas.completion import AttemptSummary
from services.dispatcher.circuits import Admission, CircuitBoard, circuit_key
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.failover import context_too_small

logger = logging.getLogger(__name__)

MARKED_DOWN = "health monitor reports the provider down"
CIRCUIT_OPEN = "the model failed repeatedly; its circuit is open until a probe succeeds"
UNKNOWN_MODEL = "unknown_model"
"""The error kind of a step skipped because this process cannot call its model."""


class HealthLookup(Protocol):
    def is_down(self, provider: str) -> bool: ...


def skipped(step: RouteStep, kind: str, message: str) -> AttemptSummary:
    """The summary of a step not attempted, with its error kind and why."""
    return AttemptSummary(
        provider=step.provider,
        model=step.model,
        outcome="skipped",
        error_kind=kind,
        error_message=message,
    )


class StepSkips:
    """Answers "may this step be attempted now?" for the route walk; holds no per-query
    state (the circuits' half-open probe is admitted here, once per step)."""

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        catalogue: Catalogue,
        health: HealthLookup,
        cooldowns: ProviderCooldowns,
        circuits: CircuitBoard,
    ) -> None:
        self._providers = providers
        self._catalogue = catalogue
        self._health = health
        self._cooldowns = cooldowns
        self._circuits = circuits

    def uncallable(self, step: RouteStep) -> str | None:
        """Why this process cannot call the step's model (None: it can). The classifier
        built the route from its own catalogue; a dispatcher whose catalogue differs
        skips the step instead of dead-lettering the query."""
        callable_here = step.provider in self._providers and any(
            spec.model_id == step.model for spec in self._catalogue.for_provider(step.provider)
        )
        if callable_here:
            return None
        return (
            f"{step.provider}/{step.model} is not in the dispatcher's catalogue "
            f"(CATALOGUE_PATH) or has no client"
        )

    def unavailable(self, step: RouteStep) -> bool:
        return (
            self._health.is_down(step.provider)
            or self._cooldowns.remaining_s(step.provider) > 0
            or self._circuits.is_open(circuit_key(step.provider, step.model))
        )

    def forced_step(self, route: Sequence[RouteStep]) -> int | None:
        """When no step is available, the one tried anyway: a false alarm must not stop all
        traffic. The last step not cooling down (its Retry-After is a certain refusal), else
        the last step. Never a step this process cannot call; None when there is none."""
        callable_steps = [i for i, step in enumerate(route) if not self.uncallable(step)]
        if not callable_steps or not all(self.unavailable(route[i]) for i in callable_steps):
            return None
        for index in reversed(callable_steps):
            if self._cooldowns.remaining_s(route[index].provider) <= 0:
                return index
        return callable_steps[-1]

    def skip(
        self,
        step: RouteStep,
        index: int,
        forced: int | None,
        route: Sequence[RouteStep],
        refused_window: int,
        *,
        admit: bool = True,
    ) -> AttemptSummary | None:
        """The skipped step's summary, or None to attempt it. `refused_window` is the
        largest context window that refused the input as too long (0: none did).
        `admit=False` only looks (for a step that may come later): no half-open probe is
        admitted, an open circuit is a skip."""
        uncallable = self.uncallable(step)
        if uncallable is not None:
            return skipped(step, UNKNOWN_MODEL, uncallable)
        window = self._catalogue.get(step.provider, step.model).capabilities.context_window
        if context_too_small(refused_window, window):
            return skipped(
                step,
                ContextTooLong.kind,
                f"the input is too long for a {refused_window}-token window; "
                f"this model's is {window}",
            )
        if index == forced:
            return None
        anyway = ""
        if forced is not None:
            target = route[forced]
            anyway = f" (so is every step; {target.provider}/{target.model} is tried anyway)"
        cooling_s = self._cooldowns.remaining_s(step.provider)
        if cooling_s > 0:
            return skipped(
                step,
                "rate_limited",
                f"the provider asked us to wait (Retry-After); {cooling_s:.1f} s left{anyway}",
            )
        if self._health.is_down(step.provider):
            return skipped(step, "marked_down", MARKED_DOWN + anyway)
        if forced is None and not admit:
            if self._circuits.is_open(circuit_key(step.provider, step.model)):
                return skipped(step, "circuit_open", CIRCUIT_OPEN)
        elif forced is None:
            admission = self._circuits.admit(circuit_key(step.provider, step.model))
            if admission is Admission.SKIP:
                return skipped(step, "circuit_open", CIRCUIT_OPEN)
            if admission is Admission.PROBE:
                logger.info("%s/%s half-open: this attempt is the probe", step.provider, step.model)
        elif self._circuits.is_open(circuit_key(step.provider, step.model)):
            return skipped(step, "circuit_open", CIRCUIT_OPEN + anyway)
        return None
