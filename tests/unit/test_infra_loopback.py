"""The local infrastructure the scripts start listens on loopback only."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_local_kafka_broker_listens_and_advertises_on_loopback_only() -> None:
    properties = dict(
        line.split("=", 1)
        for line in (ROOT / "infra" / "kafka" / "server.properties").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    for key in ("listeners", "advertised.listeners"):
        hosts = [entry.split("://", 1)[1].rsplit(":", 1)[0] for entry in properties[key].split(",")]
        assert hosts and set(hosts) == {"127.0.0.1"}, f"{key}={properties[key]}"


def test_the_local_redis_binds_loopback_and_requires_a_password() -> None:
    script = (ROOT / "scripts" / "redis.sh").read_text()
    assert "--bind 127.0.0.1 " in script
    assert "requirepass" in script
