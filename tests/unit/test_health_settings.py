"""Health settings: env names, defaults that meet the 5 s goal, and cheaper billed probes."""

from __future__ import annotations

import pytest

from services.dispatcher.settings import DispatcherSettings
from services.health.settings import HealthSettings


def test_defaults_detect_an_outage_well_within_5_seconds() -> None:
    s = HealthSettings()
    worst_case_s = s.probe_interval_s + s.down_after_failures * s.probe_timeout_s
    assert worst_case_s <= 3.5
    # the dispatcher ignores statuses older than this: heartbeats must keep them fresh
    assert 2 * s.heartbeat_s < DispatcherSettings().health_stale_after_s
    assert s.monitored_providers == ["gemini", "perplexity", "local"]


def test_env_names_are_prefixed_and_nested_settings_read_their_own(monkeypatch) -> None:
    monkeypatch.setenv("HEALTH_PROBE_INTERVAL_S", "0.5")
    monkeypatch.setenv("HEALTH_DOWN_AFTER_FAILURES", "3")
    monkeypatch.setenv("HEALTH_MONITORED_PROVIDERS", '["gemini"]')
    monkeypatch.setenv("HEALTH_LATENCY_P95_MS_OVERRIDES", '{"local": 9000}')
    monkeypatch.setenv("TOPIC_NAMESPACE", "unit-ns")
    monkeypatch.setenv("EMULATOR_URL", "http://127.0.0.1:9999")
    s = HealthSettings()
    assert (s.probe_interval_s, s.down_after_failures, s.monitored_providers) == (
        0.5, 3, ["gemini"])
    assert s.thresholds().latency_limit_ms("local") == 9000.0
    assert s.thresholds().down_after_failures == 3
    assert s.infra.topic_namespace == "unit-ns"
    assert s.providers.emulator_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize(("provider", "emulated", "interval"), [
    ("gemini", False, 1.0),       # models.get is free
    ("gemini", True, 1.0),
    ("perplexity", True, 1.0),    # the emulator costs nothing
    ("perplexity", False, 60.0),  # every real probe is a billed request
    ("local", False, 1.0),
])
def test_billed_probes_run_less_often(provider: str, emulated: bool, interval: float) -> None:
    assert HealthSettings().probe_interval_for(provider, emulated=emulated) == interval


def test_a_busy_local_model_gets_a_longer_probe_bound() -> None:
    """llama.cpp answers a probe only between generations: with a 1 s bound, a local model
    busy for a few seconds was marked down and skipped (seen in the demo)."""
    settings = HealthSettings()
    assert settings.probe_timeout_for("local") >= 10.0
    assert settings.probe_timeout_for("gemini") == settings.probe_timeout_s
