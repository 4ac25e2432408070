"""docker-compose.yml cannot run here (no Docker): keep it consistent by reading it (`make lint`
validates it with `docker-compose config`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from providers.settings import ProviderSettings
from services.common.settings import InfraSettings
from services.common.tracing import STANDARD_VARIABLES
from services.common.worker import DRAIN_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYTHON_SERVICES = {
    "classifier",
    "dispatcher",
    "scorer",
    "health",
    "recorder",
    "app",
    "emulator",
    "local-model",
    "topics",
}


def test_compose_has_the_whole_stack() -> None:
    assert {"kafka", "redis", "postgres"} | PYTHON_SERVICES <= set(COMPOSE["services"])
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert COMPOSE["services"]["postgres"]["image"].startswith("postgres:")


def test_postgres_has_no_default_password_and_keeps_its_data() -> None:
    """The password comes from the environment; without it the image refuses to initialise."""
    postgres = COMPOSE["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"
    url = COMPOSE["services"]["recorder"]["environment"]["DATABASE_URL"]
    assert url == "postgresql://strategist:${POSTGRES_PASSWORD:-}@postgres:5432/strategist"
    volume, target = postgres["volumes"][0].split(":")[:2]
    assert target == "/var/lib/postgresql/data" and volume in COMPOSE["volumes"]
    assert COMPOSE["services"]["recorder"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy")


def test_python_services_run_the_same_commands_as_the_scripts() -> None:
    stack_script = (ROOT / "scripts" / "stack.sh").read_text()
    assert '-m "services.$name"' in stack_script
    for name in ("classifier", "dispatcher", "scorer", "health", "recorder"):
        command = COMPOSE["services"][name]["command"]
        assert command == ["python", "-m", f"services.{name}"]
        assert name in stack_script
    app_command = COMPOSE["services"]["app"]["command"]
    assert "strategist.asgi:create_asgi_app()" in app_command  # wraps strategist:create_app()
    assert "strategist.asgi:create_asgi_app()" in stack_script


def _aliases(settings: type[BaseSettings]) -> set[str]:
    """Environment names a field reads besides its own (`validation_alias` choices)."""
    names: set[str] = set()
    for field in settings.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            names |= {c for c in field.validation_alias.choices if isinstance(c, str)}
    return {name.upper() for name in names}


def test_compose_environment_uses_the_settings_names() -> None:
    env = COMPOSE["services"]["dispatcher"]["environment"]
    known = {name.upper() for name in InfraSettings.model_fields} | {
        name.upper() for name in ProviderSettings.model_fields
    } | {"DATABASE_URL"} | _aliases(ProviderSettings) | set(STANDARD_VARIABLES)
    assert set(env) <= known, f"unknown env names: {set(env) - known}"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_every_python_service_waits_for_topics_or_needs_none() -> None:
    for name in ("classifier", "dispatcher", "scorer", "health", "recorder", "app"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"


LONG_RUNNING = PYTHON_SERVICES - {"topics"}


def seconds(duration: str) -> float:
    """A compose duration such as "15s" or "1m30s" in seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert parts and duration, f"unreadable duration {duration!r}"
    return int(parts[1] or 0) * 60 + float(parts[2] or 0)


def scripts_stop_timeout_s() -> float:
    match = re.search(r'^STOP_TIMEOUT_S="\$\{STOP_TIMEOUT_S:-(\d+)\}"',
                      (ROOT / "scripts" / "lib.sh").read_text(), re.MULTILINE)
    assert match, "scripts/lib.sh no longer sets a default STOP_TIMEOUT_S"
    return float(match[1])


def test_stop_grace_outlasts_the_drain_in_compose_and_the_scripts() -> None:
    """A stop must not kill a service while it drains in-flight messages (issue 7)."""
    for name in LONG_RUNNING | {"redis", "postgres"}:
        grace = seconds(COMPOSE["services"][name]["stop_grace_period"])
        assert grace > DRAIN_TIMEOUT_S, f"{name}: {grace}s grace, drain {DRAIN_TIMEOUT_S}s"
        assert grace == scripts_stop_timeout_s(), f"{name}: compose and scripts disagree"
    assert scripts_stop_timeout_s() > DRAIN_TIMEOUT_S


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    """Stored answers survive a Redis restart, as with scripts/redis.sh."""
    redis = COMPOSE["services"]["redis"]
    command = redis["command"][-1].removeprefix("exec ").split()
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    volume, target = redis["volumes"][0].split(":")[:2]
    assert target == "/data" and volume in COMPOSE["volumes"]
    script = (ROOT / "scripts" / "redis.sh").read_text()
    assert "--appendonly yes --appendfsync everysec" in script


def test_redis_requires_the_password_every_client_is_given() -> None:
    """No default secret: compose refuses to start without REDIS_PASSWORD, the server
    requires it, and every Python service's REDIS_URL carries it."""
    redis = COMPOSE["services"]["redis"]
    required = "${REDIS_PASSWORD:?"
    assert redis["environment"]["REDIS_PASSWORD"].startswith(required)
    assert '--requirepass "$$REDIS_PASSWORD"' in redis["command"][-1]
    assert redis["environment"]["REDISCLI_AUTH"].startswith(required)  # the healthcheck
    url = COMPOSE["x-python-env"]["REDIS_URL"]
    assert url.startswith("redis://:" + required) and url.endswith("@redis:6379/0")


def test_the_image_contains_every_package_the_project_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"][
        "include"]}
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./\1$", dockerfile, re.MULTILINE))
    assert packages <= copied, f"not copied into the image: {packages - copied}"
