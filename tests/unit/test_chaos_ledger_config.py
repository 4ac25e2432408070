"""The chaos ledger reads a secured cluster like every service: the shared consumer config."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import chaos.ledger
import harness.kafka
from services.common.kafka_security import KafkaSecurity
from services.common.settings import InfraSettings

UNREACHABLE = "127.0.0.1:1"
SASL_PASSWORD = "ledger-sasl-secret-5d1e"
SCRAM_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "chaos",
    "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
}


class Built(Exception):
    """Raised by the recording consumer: the config is all this test needs."""


class RecordingConsumer:
    configs: list[dict[str, Any]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        RecordingConsumer.configs.append(config)

    def list_topics(self, topic: str, timeout: float) -> Any:
        raise Built

    def close(self) -> None:
        return None


@pytest.fixture
def scram_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[InfraSettings]:
    for name, value in SCRAM_ENV.items():
        monkeypatch.setenv(name, value)
    yield InfraSettings()


def test_the_ledger_consumer_carries_the_kafka_security_settings(
    scram_env: InfraSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    RecordingConsumer.configs.clear()
    monkeypatch.setattr(harness.kafka, "Consumer", RecordingConsumer)  # chaos reads with it
    with pytest.raises(Built):
        chaos.ledger.read_ledger(
            UNREACHABLE, scram_env.kafka_security, "t.responses", "t.attempts"
        )
    [config] = RecordingConsumer.configs
    assert config["bootstrap.servers"] == UNREACHABLE
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == "chaos"
    assert config["sasl.password"] == SASL_PASSWORD
    assert config["enable.auto.commit"] is False  # the ledger reads, it never commits


def test_each_ledger_read_has_a_group_of_its_own() -> None:
    first = chaos.ledger.ledger_consumer_config(UNREACHABLE, KafkaSecurity())
    second = chaos.ledger.ledger_consumer_config(UNREACHABLE, KafkaSecurity())
    assert first["group.id"] != second["group.id"]
