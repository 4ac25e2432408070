"""Per-provider fault modes, their options, and request counters, shared by every thread.

The control API writes the mode (and its options); each emulated request reads it once
on arrival (`admit`) and behaves accordingly. A request that must wait (`hang`, a
`stall`ed stream, a stream held open without its final marker) parks on a condition
variable, so it holds only its own thread and is released as soon as the mode changes
(or the board is reset).

Modes (docs/providers.md has the table with what each client sees):

    ok                 answer normally
    down, unavailable  503 every time
    error              500 every time
    error_once         500 on the first completion after the mode is set, then answers
    rate_limit         429 with Retry-After (`retry_after_s`, default 1)
    bad_request        400
    context_too_long   400 in the provider's own "input too long" shape
    content_filter     the provider's safety refusal (OpenAI shape: 400 content_filter;
                       Gemini: 200 with promptFeedback.blockReason SAFETY, no candidates)
    reset              the connection is dropped before any byte is sent
    hang               no bytes at all until the mode changes (or HANG_MAX_S)
    slow               the answer after SLOW_DELAY_S (whatever the latency scale)
    slow_first_token   headers at once, the first chunk after `delay_s` (default 6);
                       a non-streamed answer after `delay_s`
    stall              `after_chunks` chunks (default 2), then silence until the mode changes
                       (a non-streamed answer: half its body, then silence)
    cut                `after_chunks` chunks, then the connection drops (no final event)
                       (a non-streamed answer: half its body, then the drop)
    malformed          one event that is not JSON after `after_chunks` chunks, then the rest
                       (non-streamed answers are unaffected)
    no_final_marker    every chunk, the last with its finish reason and usage, but no
                       `[DONE]`; the connection stays open until the mode changes or
                       HOLD_MAX_S (non-streamed answers are unaffected)

`error_once` applies to completions only: a health probe does not use up the one error.
Any mode set with the option `times: N` serves the first N completions after it was set
(probes not counted), then answers `ok`: "cut once" without a race against a second call.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Literal, get_args

EmulatedProvider = Literal["gemini", "perplexity", "openai"]
Mode = Literal[
    "ok",
    "down",
    "error",
    "rate_limit",
    "hang",
    "slow",
    "bad_request",
    "error_once",
    "unavailable",
    "reset",
    "slow_first_token",
    "stall",
    "cut",
    "malformed",
    "no_final_marker",
    "context_too_long",
    "content_filter",
]
Endpoint = Literal["generate", "chat", "probe"]

PROVIDERS: tuple[str, ...] = get_args(EmulatedProvider)
MODES: tuple[str, ...] = get_args(Mode)
STREAM_MODES = frozenset({"slow_first_token", "stall", "cut", "malformed", "no_final_marker"})
"""Modes that act while the answer is being sent rather than instead of it."""

HANG_MAX_S = 120.0
"""A hanging request is answered (503) after this long even if nobody changes the mode."""
HOLD_MAX_S = 60.0
"""A stalled stream, or one held open without its final marker, ends after this long."""
SLOW_DELAY_S = 8.0
"""`slow` answers correctly but only after this long, whatever the latency scale, so that
it always trips the dispatcher's 4 s attempt timeout."""
RATE_LIMIT_RETRY_AFTER_S = 1.0
"""Default `Retry-After` of an emulated 429."""
SLOW_FIRST_TOKEN_S = 6.0
"""Default delay of `slow_first_token`: past a 5 s failover rule, short of real limits."""
AFTER_CHUNKS = 2
"""Default number of chunks sent before a `stall`, `cut` or `malformed` event."""
MAX_OPTION_S = 600.0


@dataclass(frozen=True)
class FaultOptions:
    """Settings of the modes that take one; the others ignore them."""

    retry_after_s: float = RATE_LIMIT_RETRY_AFTER_S
    delay_s: float = SLOW_FIRST_TOKEN_S
    after_chunks: int = AFTER_CHUNKS
    times: int | None = None
    """Serve the mode to this many completions (probes not counted), then `ok`; None: all."""

    @classmethod
    def parse(cls, body: dict[str, object]) -> FaultOptions:
        """Options from a control-API body; raises ValueError naming the bad field."""
        values: dict[str, float | int] = {}
        for name in ("retry_after_s", "delay_s"):
            value = body.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name}: must be a number of seconds")
            if not 0 <= value <= MAX_OPTION_S:
                raise ValueError(f"{name}: must be within [0, {MAX_OPTION_S:g}]")
            values[name] = float(value)
        chunks = body.get("after_chunks")
        if chunks is not None:
            if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 0:
                raise ValueError("after_chunks: must be a non-negative integer")
            values["after_chunks"] = chunks
        times = body.get("times")
        if times is not None:
            if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                raise ValueError("times: must be a positive integer")
            values["times"] = times
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Admission:
    """The mode one request is served under, with its options."""

    mode: str
    options: FaultOptions


class FaultBoard:
    """Modes and counters for every emulated provider; thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._modes: dict[str, str] = dict.fromkeys(PROVIDERS, "ok")
        self._options: dict[str, FaultOptions] = dict.fromkeys(PROVIDERS, FaultOptions())
        self._once_spent: dict[str, bool] = dict.fromkeys(PROVIDERS, False)
        self._served: Counter[str] = Counter()
        """Completions served under the current mode (for `times`)."""
        self._by_mode: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
        self._by_endpoint: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
        self._hanging: Counter[str] = Counter()
        self._generation: dict[str, int] = dict.fromkeys(PROVIDERS, 0)

    def set_mode(self, provider: str, mode: str, options: FaultOptions | None = None) -> None:
        """Switch a provider's mode; wakes any request waiting on it. Raises KeyError/ValueError."""
        if provider not in self._modes:
            raise KeyError(provider)
        if mode not in MODES:
            raise ValueError(mode)
        with self._changed:
            self._modes[provider] = mode
            self._options[provider] = options or FaultOptions()
            self._once_spent[provider] = False
            self._served[provider] = 0
            self._generation[provider] += 1
            self._changed.notify_all()

    def reset(self) -> None:
        """Every provider back to `ok`, counters cleared, waiting requests released."""
        with self._changed:
            for provider in PROVIDERS:
                self._modes[provider] = "ok"
                self._options[provider] = FaultOptions()
                self._once_spent[provider] = False
                self._served[provider] = 0
                self._generation[provider] += 1
                self._by_mode[provider].clear()
                self._by_endpoint[provider].clear()
            self._changed.notify_all()

    def mode(self, provider: str) -> str:
        with self._changed:
            return self._modes[provider]

    def admit(self, provider: str, endpoint: Endpoint) -> Admission:
        """Count one request and return the mode it is served under.

        `error_once` serves its one 500 to the first completion, then `ok`; a mode set with
        `times` serves that many completions, then `ok`.
        """
        with self._changed:
            mode = self._modes[provider]
            times = self._options[provider].times
            if times is not None and endpoint != "probe":
                if self._served[provider] >= times:
                    mode = "ok"
                self._served[provider] += 1
            self._by_mode[provider][mode] += 1
            self._by_endpoint[provider][endpoint] += 1
            if mode == "error_once":
                if endpoint == "probe" or self._once_spent[provider]:
                    mode = "ok"
                else:
                    self._once_spent[provider] = True
            return Admission(mode, self._options[provider])

    def hang(self, provider: str, max_s: float = HANG_MAX_S) -> None:
        """Block the calling thread while `provider` stays in `hang` mode (at most `max_s`)."""
        self.hold(provider, max_s)

    def hold(self, provider: str, max_s: float) -> None:
        """Block the calling thread until `provider`'s mode is set again (at most `max_s`)."""
        with self._changed:
            generation = self._generation[provider]
            self._hanging[provider] += 1
            try:
                self._changed.wait_for(
                    lambda: self._generation[provider] != generation, timeout=max_s
                )
            finally:
                self._hanging[provider] -= 1

    def snapshot(self, provider: str | None = None) -> dict[str, dict[str, object]]:
        """Mode, options, request totals by mode and endpoint, and requests now waiting."""
        names = PROVIDERS if provider is None else (provider,)
        with self._changed:
            return {
                name: {
                    "mode": self._modes[name],
                    "options": asdict(self._options[name]),
                    "requests": sum(self._by_mode[name].values()),
                    "by_mode": dict(self._by_mode[name]),
                    "by_endpoint": dict(self._by_endpoint[name]),
                    "hanging": self._hanging[name],
                }
                for name in names
            }
