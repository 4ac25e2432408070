"""docker-compose.yml cannot run here (no Docker); keep it consistent by reading it."""

from __future__ import annotations

from pathlib import Path

import yaml

from providers.settings import ProviderSettings
from services.common.settings import InfraSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYTHON_SERVICES = {
    "classifier",
    "dispatcher",
    "scorer",
    "health",
    "app",
    "emulator",
    "local-model",
    "topics",
}


def test_compose_has_the_whole_stack() -> None:
    assert {"kafka", "redis"} | PYTHON_SERVICES <= set(COMPOSE["services"])
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:")


def test_python_services_run_the_same_commands_as_the_scripts() -> None:
    stack_script = (ROOT / "scripts" / "stack.sh").read_text()
    assert '-m "services.$name"' in stack_script
    for name in ("classifier", "dispatcher", "scorer", "health"):
        command = COMPOSE["services"][name]["command"]
        assert command == ["python", "-m", f"services.{name}"]
        assert name in stack_script
    assert "strategist:create_app()" in COMPOSE["services"]["app"]["command"]


def test_compose_environment_uses_the_settings_names() -> None:
    env = COMPOSE["services"]["dispatcher"]["environment"]
    known = {name.upper() for name in InfraSettings.model_fields} | {
        name.upper() for name in ProviderSettings.model_fields
    }
    assert set(env) <= known, f"unknown env names: {set(env) - known}"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_every_python_service_waits_for_topics_or_needs_none() -> None:
    for name in ("classifier", "dispatcher", "scorer", "health", "app"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"
