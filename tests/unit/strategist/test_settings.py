"""`STRATEGIST_*` environment variables, nested with `__`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from strategist import create_app
from strategist.settings import StrategistSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "STRATEGIST_ROUTING__ENABLED",
        "STRATEGIST_ROUTING__ROLLOUT_PERCENT",
        "STRATEGIST_SYNC_TIMEOUT_S",
        "STRATEGIST_MAX_BODY_BYTES",
        "STRATEGIST_KAFKA_DELIVERY_TIMEOUT_S",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = StrategistSettings()
    assert settings.routing.enabled is True
    assert settings.routing.rollout_percent == 100
    assert settings.sync_timeout_s == 30.0
    assert settings.max_body_bytes == 64 * 1024
    assert settings.kafka_delivery_timeout_s <= 5.0


def test_nested_routing_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATEGIST_ROUTING__ENABLED", "false")
    monkeypatch.setenv("STRATEGIST_ROUTING__ROLLOUT_PERCENT", "25")
    monkeypatch.setenv("STRATEGIST_SYNC_TIMEOUT_S", "12.5")
    monkeypatch.setenv("STRATEGIST_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("TOPIC_NAMESPACE", "ns-from-env")
    monkeypatch.setenv("EMULATOR_URL", "http://127.0.0.1:9999")
    settings = StrategistSettings()
    assert settings.routing.enabled is False
    assert settings.routing.rollout_percent == 25
    assert settings.sync_timeout_s == 12.5
    assert settings.max_body_bytes == 4096
    assert settings.infra.topic_namespace == "ns-from-env"
    assert settings.providers.emulator_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("value", ["101", "-1", "half"])
def test_rollout_percent_out_of_range_is_rejected(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("STRATEGIST_ROUTING__ROLLOUT_PERCENT", value)
    with pytest.raises(ValidationError):
        StrategistSettings()


def test_body_limit_becomes_max_content_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATEGIST_MAX_BODY_BYTES", "2048")
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 2048


def test_api_keys_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaSyTESTKEY000000000000000000")
    settings = StrategistSettings()
    assert "AIzaSyTESTKEY" not in repr(settings)
    assert settings.providers.gemini_emulated is False


def test_a_trace_url_template_must_be_a_web_address_naming_the_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STRATEGIST_TRACE_URL_TEMPLATE", raising=False)
    assert StrategistSettings().trace_url_template is None  # off by default
    monkeypatch.setenv("STRATEGIST_TRACE_URL_TEMPLATE", "")
    assert StrategistSettings().trace_url_template is None
    jaeger = "http://localhost:16686/trace/{trace_id}"
    monkeypatch.setenv("STRATEGIST_TRACE_URL_TEMPLATE", jaeger)
    assert StrategistSettings().trace_url_template == jaeger
    for wrong in ("http://localhost:16686/trace/", "javascript:alert({trace_id})"):
        monkeypatch.setenv("STRATEGIST_TRACE_URL_TEMPLATE", wrong)
        with pytest.raises(ValidationError, match="trace_id"):
            StrategistSettings()
