"""The providers page's circuit column: each model's circuit breaker as the dispatchers hold
it (published to Redis, services/common/circuit_states.py), never the health state.

Health (from the health service's probes) and circuits (from the dispatchers' own calls)
are different signals: a provider can be reported healthy while a dispatcher's circuit on
one of its models is open after two failed calls, and down while every circuit is closed
because no call went to it.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from services.common.circuit_states import CircuitView, ModelCircuit, read_circuits
from services.common.redis_keys import RedisKeys
from strategist.analysis.store import StoreUnavailable
from strategist.runtime import current_runtime

SHOWN = {"closed": "closed", "open": "open", "half_open": "half-open"}
MEANING = {
    "closed": "called",
    "open": "skipped",
    "half_open": "the next call is the probe",
}


def circuit_view() -> CircuitView | None:
    """The live dispatchers' circuits; None when Redis cannot be read."""
    components = current_runtime().components
    try:
        return read_circuits(components.store.client,
                             RedisKeys(components.settings.infra.topic_namespace))
    except (RedisError, StoreUnavailable):
        return None


def describe(circuit: ModelCircuit | None) -> tuple[str, str]:
    """(state as shown, what it means) for one model."""
    if circuit is None:
        return "unknown", "no dispatcher reporting"
    state = SHOWN[circuit.state]
    detail = MEANING[circuit.state]
    if circuit.failures and circuit.state != "closed":
        detail += f", {circuit.failures} failures in a row"
    elif circuit.failures:
        detail += f", {circuit.failures} failure counted"
    if circuit.dispatchers > 1:
        detail += f"; {circuit.holding} of {circuit.dispatchers} dispatchers"
    return state, detail


def circuits_of(provider: dict[str, Any], view: CircuitView | None) -> list[dict[str, str]]:
    """`{"model", "state", "detail"}` for each of the provider's models."""
    shown = []
    for model in provider["models"]:
        circuit = view.of(provider["provider"], model["model"]) if view is not None else None
        state, detail = describe(circuit)
        if view is None:
            detail = "circuit states unreadable (Redis)"
        shown.append({"model": model["model"], "state": state, "detail": detail})
    return shown
