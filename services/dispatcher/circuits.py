"""A half-open circuit per model: stop calling a failing model, probe it with real traffic.

    closed ──(FAILURES_TO_OPEN failures in a row)──► open ──(open interval passes)──►
    half-open: the next query's attempt is the probe, every other query skips the model
        probe succeeds ──► closed        probe fails ──► open again

A fixed cooldown keeps traffic away for its whole length after the provider is back; the
probe finds a recovery within one open interval (2 s by default, the model's
`cooldown_s` when the catalogue sets one), with a real request rather than a synthetic
one. Only failures about the model's health count (`failover.counts_against_circuit`); a
request-specific refusal (context, content) neither opens nor closes a circuit.

Per process: each dispatcher instance learns a failing model from its own first
failures (two attempts), and the health stream (probes each second) marks a provider down
for every instance. Sharing the circuit through Redis would save those two attempts per
instance at the price of a Redis round trip on every attempt; not done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

Clock = Callable[[], float]

FAILURES_TO_OPEN = 2
"""Consecutive health failures of a model that open its circuit."""
OPEN_INTERVAL_S = 2.0
"""How long an open circuit refuses traffic before letting one probe through."""
PROBE_HOLD_S = 60.0
"""A probe whose outcome never arrived (its walk died) frees the slot after this long."""


class Admission(Enum):
    CALL = "call"
    """Closed: call the model."""
    PROBE = "probe"
    """Half-open: this call is the one probe; report its outcome."""
    SKIP = "skip"
    """Open, or another query holds the probe: go to the fallback."""


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float | None = None
    probe_until: float | None = None


class CircuitBoard:
    """Circuits keyed by `provider/model`; thread-safe."""

    def __init__(
        self,
        *,
        failures_to_open: int = FAILURES_TO_OPEN,
        open_interval_s: float = OPEN_INTERVAL_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self._failures_to_open = failures_to_open
        self._open_interval_s = open_interval_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> Admission:
        """Whether the next attempt on `key` may go ahead (and whether it is the probe)."""
        now = self._clock()
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.open_until is None:
                return Admission.CALL
            if now < circuit.open_until:
                return Admission.SKIP
            if circuit.probe_until is not None and now < circuit.probe_until:
                return Admission.SKIP
            circuit.probe_until = now + PROBE_HOLD_S
            return Admission.PROBE

    def is_open(self, key: str) -> bool:
        """True while an attempt on `key` would be skipped (without claiming the probe)."""
        now = self._clock()
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.open_until is None:
                return False
            probing = circuit.probe_until is not None and now < circuit.probe_until
            return now < circuit.open_until or probing

    def succeeded(self, key: str) -> None:
        """The model answered: close its circuit."""
        with self._lock:
            self._circuits.pop(key, None)

    def failed(self, key: str, *, open_interval_s: float | None = None) -> None:
        """A health failure: count it; open (or reopen after a failed probe) at the threshold."""
        now = self._clock()
        interval = self._open_interval_s if open_interval_s is None else open_interval_s
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            circuit.failures += 1
            circuit.probe_until = None
            if circuit.open_until is not None or circuit.failures >= self._failures_to_open:
                circuit.open_until = now + interval

    def neutral(self, key: str) -> None:
        """The attempt said nothing about health (a request-specific refusal): free the probe."""
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is not None:
                circuit.probe_until = None

    def state(self, key: str) -> str:
        """closed, open or half_open (for logs and tests)."""
        now = self._clock()
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.open_until is None:
                return "closed"
            return "open" if now < circuit.open_until else "half_open"


    def snapshot(self) -> dict[str, tuple[str, int]]:
        """Every circuit held (a model with a failure counted or open): `provider/model` ->
        (closed / open / half_open, consecutive failures), for publishing."""
        now = self._clock()
        with self._lock:
            return {
                key: (
                    "closed" if c.open_until is None else "open" if now < c.open_until
                    else "half_open",
                    c.failures,
                )
                for key, c in self._circuits.items()
            }  # fmt: skip


def circuit_key(provider: str, model: str) -> str:
    return f"{provider}/{model}"
