"""The provider faults `python -m bench.failover` injects, and injecting one.

Each fault is an emulator mode for one provider (emulator/faults.py), asked with a
question whose route starts at that provider; a fault with `heal_after` switches back
to healthy after that many completion requests (a fault that passes by itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.emulator_process import EmulatorControl

COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
LIVE = "latest polls in Arizona this week"
QUESTIONS = (COMPLEX, LIVE)
HEAL_TIMEOUT_S = 60.0
"""Longest wait for a passing fault's requests (as long as one request may take)."""


@dataclass(frozen=True)
class Fault:
    """One fault: the emulator `mode` (and its `options`) for `provider`, and the question."""

    name: str
    provider: str
    mode: str
    question: str = COMPLEX
    options: dict[str, Any] = field(default_factory=dict)
    heal_after: int | None = None
    """Switch back to ok after this many completion requests (a fault that passes)."""


FAULTS = [
    Fault("none", "gemini", "ok"),
    Fault(
        "429 once, Retry-After 1 s",
        "gemini",
        "rate_limit",
        options={"retry_after_s": 1},
        heal_after=1,
    ),
    Fault("429 every time, Retry-After 1 s", "gemini", "rate_limit", options={"retry_after_s": 1}),
    Fault("500 once", "gemini", "error_once"),
    Fault("500 every time", "gemini", "error"),
    Fault("503 every time", "gemini", "unavailable"),
    Fault("connection reset", "gemini", "reset"),
    Fault("hang (no bytes)", "gemini", "hang"),
    Fault("slow first token (6 s)", "gemini", "slow_first_token", options={"delay_s": 6}),
    # Once only: the next Gemini call works, so a live reader's text is continued by Flash.
    Fault("stall after 2 chunks, once", "gemini", "stall", options={"after_chunks": 2, "times": 1}),
    Fault("cut after 2 chunks, once", "gemini", "cut", options={"after_chunks": 2, "times": 1}),
    Fault("malformed event", "gemini", "malformed", options={"after_chunks": 2}),
    Fault("no final marker", "gemini", "no_final_marker"),
    Fault("context too long (Sonar)", "perplexity", "context_too_long", LIVE),
    # Every Gemini stream cut: a live reader's continuation by Flash fails too, so Flash's
    # circuit may open; last before the content filter (Pro's), so no fault above meets it.
    Fault("stall after 2 chunks", "gemini", "stall", options={"after_chunks": 2}),
    Fault("cut after 2 chunks", "gemini", "cut", options={"after_chunks": 2}),
    Fault("content filter", "gemini", "content_filter"),
]


@contextmanager
def injected(emulator: EmulatorControl, fault: Fault) -> Iterator[None]:
    """`fault` in force for the block (healed after `heal_after` requests, when set); the
    emulator reset at the end, which also releases held (hung, stalled) requests."""
    httpx.put(
        f"{emulator.base_url}/_control/providers/{fault.provider}",
        json={"mode": fault.mode, **fault.options},
        timeout=5,
    ).raise_for_status()
    healer = None
    if fault.heal_after is not None:
        healer = threading.Thread(target=_heal, args=(emulator, fault), daemon=True)
        healer.start()
    try:
        yield
    finally:
        emulator.reset()
        if healer is not None:
            healer.join(timeout=1)


def _completions(emulator: EmulatorControl, provider: str) -> int:
    by_endpoint = emulator.state()[provider]["by_endpoint"]
    return sum(n for endpoint, n in by_endpoint.items() if endpoint != "probe")


def _heal(emulator: EmulatorControl, fault: Fault) -> None:
    deadline = time.monotonic() + HEAL_TIMEOUT_S
    while _completions(emulator, fault.provider) < (fault.heal_after or 0):
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    httpx.put(
        f"{emulator.base_url}/_control/providers/{fault.provider}", json={"mode": "ok"}, timeout=5
    )
