"""Per-provider fault modes and request counters, shared by every request thread.

The control API writes the mode; each emulated request reads it once on arrival
(`admit`) and behaves accordingly. A request in `hang` mode parks on a condition
variable, so it holds only its own thread and is released as soon as the mode
changes (or the board is reset).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Literal, get_args

EmulatedProvider = Literal["gemini", "perplexity"]
Mode = Literal["ok", "down", "error", "rate_limit", "hang", "slow", "bad_request"]
Endpoint = Literal["generate", "chat", "probe"]

PROVIDERS: tuple[str, ...] = get_args(EmulatedProvider)
MODES: tuple[str, ...] = get_args(Mode)

HANG_MAX_S = 120.0
"""A hanging request is answered (503) after this long even if nobody changes the mode."""
SLOW_DELAY_S = 8.0
"""`slow` answers correctly but only after this long, whatever the latency scale, so that
it always trips the dispatcher's 4 s attempt timeout."""
RATE_LIMIT_RETRY_AFTER_S = 1
"""Sent as `Retry-After` with every emulated 429."""


class FaultBoard:
    """Modes and counters for every emulated provider; thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._modes: dict[str, str] = dict.fromkeys(PROVIDERS, "ok")
        self._by_mode: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
        self._by_endpoint: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
        self._hanging: Counter[str] = Counter()

    def set_mode(self, provider: str, mode: str) -> None:
        """Switch a provider's mode; wakes any request hanging on it. Raises KeyError/ValueError."""
        if provider not in self._modes:
            raise KeyError(provider)
        if mode not in MODES:
            raise ValueError(mode)
        with self._changed:
            self._modes[provider] = mode
            self._changed.notify_all()

    def reset(self) -> None:
        """Every provider back to `ok`, counters cleared, hanging requests released."""
        with self._changed:
            for provider in PROVIDERS:
                self._modes[provider] = "ok"
                self._by_mode[provider].clear()
                self._by_endpoint[provider].clear()
            self._changed.notify_all()

    def mode(self, provider: str) -> str:
        with self._changed:
            return self._modes[provider]

    def admit(self, provider: str, endpoint: Endpoint) -> str:
        """Count one request and return the mode it is served under."""
        with self._changed:
            mode = self._modes[provider]
            self._by_mode[provider][mode] += 1
            self._by_endpoint[provider][endpoint] += 1
            return mode

    def hang(self, provider: str, max_s: float = HANG_MAX_S) -> None:
        """Block the calling thread while `provider` stays in `hang` mode (at most `max_s`)."""
        with self._changed:
            self._hanging[provider] += 1
            try:
                self._changed.wait_for(lambda: self._modes[provider] != "hang", timeout=max_s)
            finally:
                self._hanging[provider] -= 1

    def snapshot(self, provider: str | None = None) -> dict[str, dict[str, object]]:
        """Mode, request totals by mode and endpoint, and requests now hanging, per provider."""
        names = PROVIDERS if provider is None else (provider,)
        with self._changed:
            return {
                name: {
                    "mode": self._modes[name],
                    "requests": sum(self._by_mode[name].values()),
                    "by_mode": dict(self._by_mode[name]),
                    "by_endpoint": dict(self._by_endpoint[name]),
                    "hanging": self._hanging[name],
                }
                for name in names
            }
