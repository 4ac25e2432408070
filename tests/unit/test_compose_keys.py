"""docker-compose makes the API key its users need, and passes the auth mode to the app."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_a_one_shot_service_creates_a_key_once_postgres_is_up() -> None:
    keys = COMPOSE["services"]["keys"]
    assert keys["command"][:7] == ["python", "-m", "flask", "--app", "strategist", "keys",
                                   "create"]
    assert keys["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "restart" not in keys  # one-shot: a restart would make a key each time


def test_the_app_gets_the_auth_mode_and_required_is_the_default() -> None:
    env = COMPOSE["services"]["app"]["environment"]
    assert env["STRATEGIST_AUTH__MODE"] == "${STRATEGIST_AUTH__MODE:-required}"
    assert env["DATABASE_URL"].startswith("postgresql://")


def test_an_empty_emulator_url_in_the_shell_reaches_the_services() -> None:
    """`${EMULATOR_URL-...}` (no colon): an empty value chooses the real providers."""
    assert COMPOSE["services"]["app"]["environment"]["EMULATOR_URL"].startswith(
        "${EMULATOR_URL-"
    )
