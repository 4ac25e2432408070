"""Provider health as a pure state machine: probes and real traffic in, statuses out.

HealthSignals per provider: the consecutive probe results, and a sliding window over
the dispatcher's attempt events (error rate, rate limiting, latency). `assess`
turns the signals into the state they call for, with the reasons; the tracker
adds hysteresis: a provider gets worse at once, but gets better only after
`recover_after_successes` probes in a row succeeded, so it does not flap.

No I/O here: the worker passes the clock and the probe results in and
publishes the statuses that come out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from providers.errors import ProviderError, RateLimited, redact
from schemas.attempt import ProviderAttempt
from schemas.base import ProviderName
from schemas.health import ProviderState, ProviderStatus
from services.health.window import AttemptWindow, Sample, WindowStats, percentile

SEVERITY: dict[ProviderState, int] = {"healthy": 0, "degraded": 1, "down": 2}
PROBE_LATENCY_SAMPLES = 10
MIN_PROBE_LATENCY_SAMPLES = 3
REQUEST_CAUSED_ERRORS = frozenset({"bad_request", "context_too_long", "content_blocked"})
"""Attempt failures that say something about the request, not about the provider's health."""
RATE_LIMITED_KIND = RateLimited.kind
ECHO_KINDS = frozenset({"cancelled_marked_down"})
"""Attempt failures that only echo this service's own verdict (the dispatcher cancels
attempts on a provider marked down): counting them would keep it down by itself."""
FINISHED_OK_OUTCOMES = frozenset({"success"})
FINISHED_FAILED_OUTCOMES = frozenset({"error", "timeout"})
"""Attempt outcomes that report a finished call. Anything else ("started", recorded before
the call is made, or an outcome a newer dispatcher adds) says nothing about health yet."""
RECOVERING_MARK = " (recovering: "


@dataclass(frozen=True)
class Thresholds:
    """When a provider counts as degraded or down (built from HealthSettings)."""

    down_after_failures: int = 2
    recover_after_successes: int = 2
    window_size: int = 50
    window_s: float = 60.0
    min_samples: int = 5
    degraded_error_rate: float = 0.2
    down_error_rate: float = 0.8
    degraded_latency_p95_ms: float = 4000.0
    latency_p95_ms_overrides: Mapping[str, float] = field(default_factory=dict)
    degraded_probe_p95_ms: float = 750.0
    rate_limit_hold_s: float = 10.0

    def latency_limit_ms(self, provider: str) -> float:
        return self.latency_p95_ms_overrides.get(provider, self.degraded_latency_p95_ms)


ProbeOutcome = Literal["ok", "failed", "rate_limited"]


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one provider; `error` is "kind: message", already redacted."""

    at: datetime
    outcome: ProbeOutcome
    latency_ms: float
    error_kind: str | None = None
    error: str | None = None

    @classmethod
    def ok(cls, at: datetime, latency_ms: float) -> ProbeResult:
        return cls(at=at, outcome="ok", latency_ms=latency_ms)

    @classmethod
    def from_error(cls, at: datetime, latency_ms: float, err: BaseException) -> ProbeResult:
        """Classify a probe's exception: a 429 is throttling, anything else a failure."""
        if isinstance(err, ProviderError):
            kind, message = err.kind, err.message
        elif isinstance(err, TimeoutError):
            kind, message = "timeout", "probe timed out"
        else:
            kind, message = "unexpected", redact(f"{type(err).__name__}: {err}")
        outcome: ProbeOutcome = "rate_limited" if isinstance(err, RateLimited) else "failed"
        return cls(at=at, outcome=outcome, latency_ms=latency_ms, error_kind=kind,
                   error=f"{kind}: {message}")


@dataclass(frozen=True)
class HealthSignals:
    """Everything `assess` reads about one provider at one moment."""

    now: datetime
    consecutive_probe_failures: int = 0
    last_probe_error_kind: str | None = None
    probe_rate_limited: bool = False
    probe_p95_ms: float | None = None
    traffic: WindowStats = field(default_factory=WindowStats)
    latency_limit_ms: float = 4000.0


@dataclass(frozen=True)
class Assessment:
    state: ProviderState
    reason: str


def assess(signals: HealthSignals, t: Thresholds) -> Assessment:
    """The state the signals call for (without hysteresis), with every reason that applies."""
    down: list[str] = []
    degraded: list[str] = []
    failures = signals.consecutive_probe_failures
    if failures:
        text = (f"{failures} consecutive probe failure{'s' if failures > 1 else ''}"
                f" (last: {signals.last_probe_error_kind})")
        (down if failures >= t.down_after_failures else degraded).append(text)
    traffic = signals.traffic
    if traffic.samples >= t.min_samples:
        rate_text = (f"error rate {traffic.error_rate:.0%} over the last {traffic.samples} calls")
        if traffic.error_rate >= t.down_error_rate:
            down.append(rate_text)
        elif traffic.error_rate >= t.degraded_error_rate:
            degraded.append(rate_text)
        if traffic.p95_ms is not None and traffic.p95_ms > signals.latency_limit_ms:
            degraded.append(f"p95 latency {traffic.p95_ms:.0f} ms above "
                            f"{signals.latency_limit_ms:.0f} ms")
    if signals.probe_rate_limited:
        degraded.append("rate limited (probe got 429)")
    elif traffic.last_rate_limited_at is not None and (
        signals.now - traffic.last_rate_limited_at <= timedelta(seconds=t.rate_limit_hold_s)
    ):
        degraded.append(f"rate limited ({traffic.rate_limited} calls got 429)")
    if signals.probe_p95_ms is not None and signals.probe_p95_ms > t.degraded_probe_p95_ms:
        degraded.append(f"slow probes: p95 {signals.probe_p95_ms:.0f} ms above "
                        f"{t.degraded_probe_p95_ms:.0f} ms")
    if down:
        return Assessment("down", "; ".join(down + degraded))
    if degraded:
        return Assessment("degraded", "; ".join(degraded))
    if traffic.samples:
        return Assessment("healthy", f"probes ok; error rate {traffic.error_rate:.0%} over "
                                     f"the last {traffic.samples} calls")
    return Assessment("healthy", "probes ok; no recent traffic")


class ProviderTracker:
    """One provider's signals and current state."""

    def __init__(self, provider: ProviderName, thresholds: Thresholds,
                 publisher: str | None = None) -> None:
        self.provider = provider
        self.publisher = publisher
        self._t = thresholds
        self._window = AttemptWindow(max_samples=thresholds.window_size,
                                     span_s=thresholds.window_s)
        self._probe_latencies: deque[float] = deque(maxlen=PROBE_LATENCY_SAMPLES)
        self.failures = 0
        self.successes = 0
        self._probe_rate_limited = False
        self._last_probe_error_kind: str | None = None
        self.last_error: str | None = None
        self._last_error_at: datetime | None = None
        self.last_probe_at: datetime | None = None
        self._traffic_since: datetime | None = None
        self.state: ProviderState | None = None
        self.reason = "not probed yet"

    def record_attempt(self, attempt: ProviderAttempt) -> bool:
        """Count a finished call in the traffic window; False (nothing recorded) for an
        attempt that is not finished or whose outcome this version does not know."""
        outcome = str(attempt.outcome)
        if outcome not in FINISHED_OK_OUTCOMES | FINISHED_FAILED_OUTCOMES:
            return False
        kind = attempt.error_kind
        if kind in ECHO_KINDS:
            return False
        ok = outcome in FINISHED_OK_OUTCOMES or kind in REQUEST_CAUSED_ERRORS
        self._window.add(Sample(event_id=attempt.event_id, at=attempt.occurred_at, ok=ok,
                                latency_ms=attempt.latency_ms,
                                rate_limited=kind == RATE_LIMITED_KIND))
        if not ok:
            message = redact(attempt.error_message or attempt.outcome)
            self._note_error(attempt.occurred_at, f"{kind or attempt.outcome}: {message}")
        return True

    def record_probe(self, result: ProbeResult) -> None:
        self.last_probe_at = result.at
        if result.outcome == "ok":
            if self.failures >= self._t.down_after_failures:
                # A probe-confirmed outage explains the traffic errors during it: judge
                # traffic from the moment the provider answered again.
                self._traffic_since = result.at
            self.successes += 1
            self.failures = 0
            self._probe_rate_limited = False
            self._probe_latencies.append(result.latency_ms)
            return
        self.successes = 0
        if result.outcome == "rate_limited":
            self.failures = 0  # it answered: reachable, but throttling us
            self._probe_rate_limited = True
        else:
            self.failures += 1
            self._probe_rate_limited = False
        self._last_probe_error_kind = result.error_kind
        self._note_error(result.at, result.error)

    def _note_error(self, at: datetime, error: str | None) -> None:
        if error is not None and (self._last_error_at is None or at >= self._last_error_at):
            self.last_error, self._last_error_at = error, at

    def signals(self, now: datetime) -> HealthSignals:
        probe_p95 = (percentile(self._probe_latencies, 95)
                     if len(self._probe_latencies) >= MIN_PROBE_LATENCY_SAMPLES else None)
        return HealthSignals(
            now=now,
            consecutive_probe_failures=self.failures,
            last_probe_error_kind=self._last_probe_error_kind,
            probe_rate_limited=self._probe_rate_limited,
            probe_p95_ms=probe_p95,
            traffic=self._window.stats(now, since=self._traffic_since),
            latency_limit_ms=self._t.latency_limit_ms(self.provider),
        )

    def evaluate(self, now: datetime) -> bool:
        """Move to the state the signals call for (worse at once, better only after
        enough successful probes); True when the state changed. No state before a probe."""
        if self.last_probe_at is None:
            return False
        wanted = assess(self.signals(now), self._t)
        previous = self.state
        worse_or_same = previous is None or SEVERITY[wanted.state] >= SEVERITY[previous]
        if worse_or_same or self.successes >= self._t.recover_after_successes:
            self.state, self.reason = wanted.state, wanted.reason
        else:
            base = self.reason.split(RECOVERING_MARK)[0]
            self.reason = base if not self.successes else (
                f"{base}{RECOVERING_MARK}{self.successes}/"
                f"{self._t.recover_after_successes} probes ok)")
        return self.state != previous

    def status(self, now: datetime, *, heartbeat: bool = False) -> ProviderStatus:
        """The published form of the current state; call after `evaluate`."""
        assert self.state is not None, "no status before the first probe"
        traffic = self._window.stats(now, since=self._traffic_since)
        p50, p95 = traffic.p50_ms, traffic.p95_ms
        if p50 is None:  # no successful calls lately: report what the probes see
            p50 = percentile(self._probe_latencies, 50)
            p95 = percentile(self._probe_latencies, 95)
        return ProviderStatus(
            provider=self.provider,
            state=self.state,
            reason=self.reason,
            error_rate=round(traffic.error_rate, 4),
            latency_p50_ms=None if p50 is None else round(p50, 1),
            latency_p95_ms=None if p95 is None else round(p95, 1),
            sample_size=traffic.samples,
            consecutive_probe_failures=self.failures,
            last_error=self.last_error,
            last_probe_at=self.last_probe_at,
            heartbeat=heartbeat,
            publisher=self.publisher,
            occurred_at=now,
        )


class HealthMonitor:
    """The trackers of every monitored provider; each call returns the statuses to publish.

    `publisher` names this instance in every status it makes (see ProviderStatus).
    """

    def __init__(self, providers: Iterable[ProviderName], thresholds: Thresholds,
                 publisher: str | None = None) -> None:
        self._thresholds = thresholds
        self._publisher = publisher
        self.trackers = {p: ProviderTracker(p, thresholds, publisher) for p in providers}

    def reset(self, provider: ProviderName) -> None:
        """Forget what is known about `provider`: another instance answered for it
        meanwhile, so old signals here are stale. No status until its next probe."""
        if provider in self.trackers:
            self.trackers[provider] = ProviderTracker(provider, self._thresholds,
                                                      self._publisher)

    def on_attempt(self, attempt: ProviderAttempt, now: datetime) -> list[ProviderStatus]:
        """A real-traffic attempt; a status when it changed the provider's state."""
        tracker = self.trackers.get(attempt.provider)
        if tracker is None or not tracker.record_attempt(attempt):
            return []
        return [tracker.status(now)] if tracker.evaluate(now) else []

    def on_probe(self, provider: ProviderName, result: ProbeResult) -> list[ProviderStatus]:
        """A probe result; a status when it changed the provider's state."""
        tracker = self.trackers[provider]
        tracker.record_probe(result)
        return [tracker.status(result.at)] if tracker.evaluate(result.at) else []

    def heartbeats(self, now: datetime) -> list[ProviderStatus]:
        """The current status of every provider that has one, re-evaluated so that window
        ageing shows; marked as a heartbeat unless the state just changed."""
        statuses = []
        for tracker in self.trackers.values():
            changed = tracker.evaluate(now)
            if tracker.state is not None:
                statuses.append(tracker.status(now, heartbeat=not changed))
        return statuses
