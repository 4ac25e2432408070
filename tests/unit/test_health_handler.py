"""The health state machine: the decision table, hysteresis, traffic windows, statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from providers.errors import ContentBlocked, ProviderTimeout, ProviderUnavailable, RateLimited
from schemas.attempt import ProviderAttempt
from schemas.health import ProviderStatus
from services.health.handler import (
    HealthMonitor,
    HealthSignals,
    ProbeResult,
    ProviderTracker,
    Thresholds,
    assess,
)
from services.health.window import WindowStats

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T = Thresholds()  # the defaults: down after 2 failures, recover after 2 successes


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def traffic(samples: int, errors: int = 0, p95_ms: float | None = 100.0,
            rate_limited_at: datetime | None = None) -> WindowStats:
    return WindowStats(samples=samples, errors=errors, p50_ms=p95_ms, p95_ms=p95_ms,
                       rate_limited=1 if rate_limited_at else 0,
                       last_rate_limited_at=rate_limited_at)


@pytest.mark.parametrize(("signals", "state", "reason_part"), [
    (HealthSignals(now=T0), "healthy", "no recent traffic"),
    (HealthSignals(now=T0, traffic=traffic(10, errors=1)), "healthy", "error rate 10%"),
    (HealthSignals(now=T0, consecutive_probe_failures=1, last_probe_error_kind="timeout"),
     "degraded", "1 consecutive probe failure (last: timeout)"),
    (HealthSignals(now=T0, consecutive_probe_failures=2, last_probe_error_kind="unavailable"),
     "down", "2 consecutive probe failures (last: unavailable)"),
    (HealthSignals(now=T0, consecutive_probe_failures=7), "down", "7 consecutive"),
    (HealthSignals(now=T0, traffic=traffic(10, errors=2)), "degraded", "error rate 20%"),
    (HealthSignals(now=T0, traffic=traffic(10, errors=8)), "down", "error rate 80%"),
    (HealthSignals(now=T0, traffic=traffic(4, errors=4)), "healthy", "error rate 100%"),  # < min
    (HealthSignals(now=T0, traffic=traffic(10, p95_ms=4500.0)), "degraded", "p95 latency 4500 ms"),
    (HealthSignals(now=T0, traffic=traffic(10, p95_ms=4500.0), latency_limit_ms=30_000.0),
     "healthy", "probes ok"),
    (HealthSignals(now=T0, traffic=traffic(3, p95_ms=9000.0)), "healthy", "probes ok"),  # < min
    (HealthSignals(now=T0, probe_rate_limited=True), "degraded", "rate limited (probe got 429)"),
    (HealthSignals(now=at(5), traffic=traffic(1, errors=1, rate_limited_at=T0)),
     "degraded", "rate limited (1 calls got 429)"),
    (HealthSignals(now=at(11), traffic=traffic(1, errors=1, rate_limited_at=T0)),
     "healthy", "probes ok"),  # the 429 is older than rate_limit_hold_s
    (HealthSignals(now=T0, probe_p95_ms=900.0), "degraded", "slow probes: p95 900 ms"),
    (HealthSignals(now=T0, probe_p95_ms=700.0), "healthy", "probes ok"),
    (HealthSignals(now=T0, consecutive_probe_failures=2, last_probe_error_kind="timeout",
             traffic=traffic(10, errors=3)),
     "down", "2 consecutive probe failures (last: timeout); error rate 30%"),
])
def test_assess_decision_table(signals: HealthSignals, state: str, reason_part: str) -> None:
    result = assess(signals, T)
    assert result.state == state
    assert reason_part in result.reason


def ok(seconds: float, latency_ms: float = 20.0) -> ProbeResult:
    return ProbeResult.ok(at(seconds), latency_ms)


def fail(seconds: float, err: BaseException | None = None) -> ProbeResult:
    return ProbeResult.from_error(at(seconds), 1000.0,
                                  err or ProviderTimeout("gemini", "no answer in 1.0s"))


def attempt(seconds: float, outcome: str = "success", *, kind: str | None = None,
            latency_ms: float = 800.0, event_id: str | None = None) -> ProviderAttempt:
    extra = {"event_id": event_id} if event_id else {}
    return ProviderAttempt(query_id="q", provider="gemini", model="gemini-2.5-flash",
                           attempt_number=1, outcome=outcome, error_kind=kind,  # type: ignore[arg-type]
                           error_message=None if kind is None else f"{kind} happened",
                           latency_ms=latency_ms, occurred_at=at(seconds), **extra)


def states(tracker: ProviderTracker, steps: list[ProbeResult]) -> list[str | None]:
    seen = []
    for result in steps:
        tracker.record_probe(result)
        tracker.evaluate(result.at)
        seen.append(tracker.state)
    return seen


@pytest.mark.parametrize(("steps", "expected"), [
    ([ok(0), ok(1), ok(2)], ["healthy"] * 3),
    ([ok(0), fail(1), fail(2), fail(3)], ["healthy", "degraded", "down", "down"]),
    ([fail(0)], ["degraded"]),  # first status follows the first probe at once
    # recovery needs two successes in a row: no flapping on one good probe
    ([ok(0), fail(1), fail(2), ok(3), ok(4)], ["healthy", "degraded", "down", "down", "healthy"]),
    ([ok(0), fail(1), fail(2), ok(3), fail(4), ok(5), ok(6)],
     ["healthy", "degraded", "down", "down", "down", "down", "healthy"]),
    ([ok(0), fail(1), ok(2), ok(3)], ["healthy", "degraded", "degraded", "healthy"]),
    ([ok(0), fail(1, RateLimited("gemini", "429")), fail(2, RateLimited("gemini", "429")),
      ok(3), ok(4)], ["healthy", "degraded", "degraded", "degraded", "healthy"]),
])
def test_probe_sequences_with_hysteresis(steps: list[ProbeResult], expected: list[str]) -> None:
    assert states(ProviderTracker("gemini", T), steps) == expected


def test_no_state_before_the_first_probe() -> None:
    tracker = ProviderTracker("gemini", T)
    tracker.record_attempt(attempt(0))
    assert tracker.evaluate(at(0)) is False
    assert tracker.state is None


def test_down_status_carries_failures_and_the_redacted_last_error() -> None:
    tracker = ProviderTracker("gemini", T)
    states(tracker, [ok(0, 10.0), ok(1, 30.0), fail(2, ProviderUnavailable(
        "gemini", "503 from https://x/v1?key=AIzaSyA1234567890123456789012")), fail(3)])
    status = tracker.status(at(3))
    assert isinstance(status, ProviderStatus)
    assert (status.state, status.consecutive_probe_failures) == ("down", 2)
    assert status.last_error == "timeout: no answer in 1.0s"
    assert status.last_probe_at == at(3)
    assert status.latency_p50_ms == 20.0  # from probes: no traffic
    assert (status.sample_size, status.error_rate, status.heartbeat) == (0, 0.0, False)
    tracker2 = ProviderTracker("gemini", T)
    states(tracker2, [fail(0, ProviderUnavailable(
        "gemini", "503 from https://x/v1?key=AIzaSyA1234567890123456789012"))])
    assert "AIzaSy" not in (tracker2.status(at(0)).last_error or "")
    assert "unavailable" in (tracker2.status(at(0)).last_error or "")


def test_high_real_traffic_error_rate_means_down_while_probes_pass() -> None:
    monitor = HealthMonitor(["gemini"], T)
    assert [s.state for s in monitor.on_probe("gemini", ok(0))] == ["healthy"]
    published = []
    for i in range(5):
        published += monitor.on_attempt(attempt(1 + i * 0.1, "error", kind="unavailable"), at(2))
    assert [s.state for s in published] == ["down"]
    assert "error rate 100% over the last 5 calls" in published[0].reason
    assert published[0].sample_size == 5 and published[0].error_rate == 1.0
    # the window ages out (the dispatcher sends nothing to a down provider): recovers
    assert [s.state for s in monitor.on_probe("gemini", ok(62))] == ["healthy"]


def test_errors_caused_by_the_request_do_not_count_against_the_provider() -> None:
    monitor = HealthMonitor(["gemini"], T)
    monitor.on_probe("gemini", ok(0))
    for i in range(10):
        kind = ContentBlocked.kind if i % 2 else "bad_request"
        assert monitor.on_attempt(attempt(1, "error", kind=kind, event_id=f"e{i}"), at(1)) == []
    assert monitor.trackers["gemini"].status(at(1)).error_rate == 0.0


def test_rate_limited_traffic_degrades_then_holds_expire() -> None:
    monitor = HealthMonitor(["perplexity"], T)
    monitor.on_probe("perplexity", ProbeResult.ok(at(0), 10.0))
    limited = ProviderAttempt(query_id="q", provider="perplexity", model="sonar",
                              attempt_number=1, outcome="error", error_kind="rate_limited",
                              error_message="429", latency_ms=50.0, occurred_at=at(1))
    changed = monitor.on_attempt(limited, at(1))
    assert [(s.state, s.reason) for s in changed] == [
        ("degraded", "rate limited (1 calls got 429)")]
    assert monitor.on_probe("perplexity", ProbeResult.ok(at(5), 10.0)) == []
    assert [s.state for s in monitor.on_probe("perplexity", ProbeResult.ok(at(12), 10.0))] == [
        "healthy"]


def test_traffic_errors_during_a_probe_confirmed_outage_do_not_block_recovery() -> None:
    tracker = ProviderTracker("gemini", T)
    states(tracker, [ok(0), fail(1), fail(2)])
    for i in range(6):  # the dispatcher's calls failing before it saw the down status
        tracker.record_attempt(attempt(1.5 + i * 0.1, "error", kind="unavailable"))
    assert states(tracker, [ok(3), ok(4)]) == ["down", "healthy"]
    assert tracker.status(at(4)).error_rate == 0.0


def test_slow_traffic_degrades_but_the_local_model_has_its_own_limit() -> None:
    thresholds = Thresholds(latency_p95_ms_overrides={"local": 30_000.0})
    monitor = HealthMonitor(["gemini", "local"], thresholds)
    for provider in ("gemini", "local"):
        monitor.on_probe(provider, ok(0))  # type: ignore[arg-type]
    for i in range(5):
        for provider in ("gemini", "local"):
            monitor.on_attempt(attempt(1, latency_ms=6000.0, event_id=f"{provider}{i}")
                               .model_copy(update={"provider": provider}), at(1))
    assert monitor.trackers["gemini"].state == "degraded"
    assert "p95 latency 6000 ms" in monitor.trackers["gemini"].reason
    assert monitor.trackers["local"].state == "healthy"
    status = monitor.trackers["gemini"].status(at(1))
    assert (status.latency_p50_ms, status.latency_p95_ms, status.sample_size) == (
        6000.0, 6000.0, 5)


def test_attempts_for_unmonitored_providers_are_ignored() -> None:
    monitor = HealthMonitor(["gemini"], T)
    other = attempt(0).model_copy(update={"provider": "local"})
    assert monitor.on_attempt(other, at(0)) == []


def test_heartbeats_cover_every_probed_provider() -> None:
    monitor = HealthMonitor(["gemini", "perplexity", "local"], T)
    monitor.on_probe("gemini", ok(0))
    monitor.on_probe("local", fail(0))
    beats = monitor.heartbeats(at(1))
    assert {(s.provider, s.state, s.heartbeat) for s in beats} == {
        ("gemini", "healthy", True), ("local", "degraded", True)}
    assert all(s.occurred_at == at(1) for s in beats)


@pytest.mark.parametrize(("err", "outcome", "error_prefix"), [
    (ProviderTimeout("gemini", "slow"), "failed", "timeout: slow"),
    (ProviderUnavailable("gemini", "connection refused"), "failed", "unavailable: connection"),
    (RateLimited("gemini", "429 too many"), "rate_limited", "rate_limited: 429"),
    (TimeoutError(), "failed", "timeout: probe timed out"),
    (ValueError("weird Bearer sk-abcdefgh"), "failed", "unexpected: ValueError: weird Bearer"),
])
def test_probe_errors_are_classified(err: BaseException, outcome: str, error_prefix: str) -> None:
    result = ProbeResult.from_error(T0, 12.0, err)
    assert result.outcome == outcome
    assert (result.error or "").startswith(error_prefix)
    assert "sk-abcdefgh" not in (result.error or "")


def test_traffic_that_only_gets_429s_is_degraded_never_down() -> None:
    """A provider answering 429 with Retry-After is reachable and throttling: the
    dispatcher waits or fails over by itself; marking it down would stop all traffic."""
    monitor = HealthMonitor(["perplexity"], T)
    monitor.on_probe("perplexity", ok(0))
    published = []
    for i in range(20):
        limited = ProviderAttempt(
            query_id=f"q{i}", provider="perplexity", model="sonar", attempt_number=1,
            outcome="error", error_kind="rate_limited",
            error_message="429 Too Many Requests (retry after 2s)", latency_ms=40.0,
            occurred_at=at(1 + i * 0.1))
        published += monitor.on_attempt(limited, at(1 + i * 0.1))
    published += monitor.on_probe("perplexity", fail(3, RateLimited("perplexity", "429", 2.0)))
    assert [s.state for s in published] == ["degraded"]
    status = monitor.trackers["perplexity"].status(at(3))
    assert status.state == "degraded" and "rate limited" in status.reason
    assert status.error_rate == 0.0  # throttling is not failing


def test_started_and_unknown_attempt_outcomes_say_nothing_about_health() -> None:
    """The dispatcher records every call as "started" before making it; only a finished
    call counts, and an outcome this version does not know is ignored, not an error."""
    monitor = HealthMonitor(["gemini"], T)
    monitor.on_probe("gemini", ok(0))
    for i, outcome in enumerate(["started"] * 10 + ["cancelled"] * 5):
        event = attempt(1, event_id=f"e{i}").model_copy(update={"outcome": outcome})
        assert monitor.on_attempt(event, at(1)) == []
    status = monitor.trackers["gemini"].status(at(1))
    assert (status.state, status.sample_size, status.error_rate) == ("healthy", 0, 0.0)
    assert status.last_error is None


def test_attempts_cancelled_because_the_provider_was_marked_down_do_not_keep_it_down() -> None:
    """The dispatcher cancels its attempts on a provider the health stream marks down; those
    cancellations echo our own verdict, so after probes recover they must not hold it down."""
    monitor = HealthMonitor(["gemini"], T)
    monitor.on_probe("gemini", ok(0))
    for i in range(10):
        event = attempt(1, "timeout", kind="cancelled_marked_down", event_id=f"c{i}")
        assert monitor.on_attempt(event, at(1)) == []
    status = monitor.trackers["gemini"].status(at(1))
    assert (status.state, status.sample_size) == ("healthy", 0)
