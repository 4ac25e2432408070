"""Kafka security settings reach every client's configuration and never its logs or reprs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr, ValidationError

from services.common.consumer import consumer_config
from services.common.follower import follower_config
from services.common.kafka_config import admin_config
from services.common.kafka_security import KafkaSecurity
from services.common.producer import producer_config
from services.common.settings import InfraSettings

SASL_PASSWORD = "sasl-secret-7f3a9c"
KEY_PASSWORD = "key-secret-41b2e0"
UNREACHABLE = "127.0.0.1:1"
SCRAM_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "dispatcher",
    "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
}

BUILDERS: dict[str, Callable[[KafkaSecurity], dict[str, Any]]] = {
    "consumer": lambda s: consumer_config(UNREACHABLE, group_id="g", client_id="c", security=s),
    "producer": lambda s: producer_config(UNREACHABLE, client_id="p", security=s),
    "follower": lambda s: follower_config(UNREACHABLE, owner="f", security=s),
    "admin": lambda s: admin_config(UNREACHABLE, security=s),
}


@pytest.fixture
def scram_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[InfraSettings]:
    for name, value in SCRAM_ENV.items():
        monkeypatch.setenv(name, value)
    yield InfraSettings()


@pytest.mark.parametrize("client", sorted(BUILDERS))
def test_scram_settings_from_the_environment_reach_every_client(
    client: str, scram_env: InfraSettings
) -> None:
    config = BUILDERS[client](scram_env.kafka_security)  # as a `__main__` hands it down
    assert {k: config[k] for k in ("security.protocol", "sasl.mechanism", "sasl.username")} == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "dispatcher",
    }
    assert config["sasl.password"] == SASL_PASSWORD
    assert config["bootstrap.servers"] == UNREACHABLE


@pytest.mark.parametrize("client", sorted(BUILDERS))
def test_mutual_tls_settings_reach_every_client(client: str) -> None:
    security = KafkaSecurity(
        protocol="SSL",
        ssl_ca_location="/etc/kafka/ca.pem",
        ssl_certificate_location="/etc/kafka/client.pem",
        ssl_key_location="/etc/kafka/client.key",
        ssl_key_password=SecretStr(KEY_PASSWORD),
    )
    config = BUILDERS[client](security)
    assert config["security.protocol"] == "SSL"
    assert config["ssl.ca.location"] == "/etc/kafka/ca.pem"
    assert config["ssl.certificate.location"] == "/etc/kafka/client.pem"
    assert config["ssl.key.location"] == "/etc/kafka/client.key"
    assert config["ssl.key.password"] == KEY_PASSWORD
    assert "sasl.password" not in config


@pytest.mark.parametrize("client", sorted(BUILDERS))
def test_a_builder_never_reads_the_environment_behind_its_caller(
    client: str, scram_env: InfraSettings
) -> None:
    """The security given is the security used, whatever the environment says."""
    config = BUILDERS[client](KafkaSecurity())
    assert config["security.protocol"] == "PLAINTEXT"
    assert not any(key.startswith(("sasl.", "ssl.")) for key in config)


def test_the_local_broker_default_is_plaintext_without_secrets() -> None:
    config = producer_config(UNREACHABLE, client_id="p", security=KafkaSecurity())
    assert config["security.protocol"] == "PLAINTEXT"
    assert not any(key.startswith(("sasl.", "ssl.")) for key in config)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"}, "KAFKA_SASL_USERNAME"),
        ({"protocol": "SSL", "ssl_certificate_location": "/c.pem"}, "KAFKA_SSL_KEY_LOCATION"),
    ],
)
def test_a_half_configured_client_is_refused_at_start_up(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaSecurity(**settings)


def test_secrets_never_appear_in_the_settings_reprs(scram_env: InfraSettings) -> None:
    shown = [
        repr(scram_env),
        str(scram_env),
        scram_env.model_dump_json(),
        repr(scram_env.kafka_security),
        scram_env.kafka_security.model_dump_json(),
    ]
    assert not [text for text in shown if SASL_PASSWORD in text]


def test_secrets_never_appear_in_the_clients_logs(
    scram_env: InfraSettings, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """librdkafka accepts the settings (an unknown or invalid key raises here) and logs
    none of them while it tries to connect."""
    caplog.set_level(logging.DEBUG)
    security = scram_env.kafka_security
    consumer = Consumer(
        consumer_config(UNREACHABLE, group_id="g", client_id="c", security=security)
    )
    follower = Consumer(follower_config(UNREACHABLE, owner="f", security=security))
    producer = Producer(producer_config(UNREACHABLE, client_id="p", security=security))
    AdminClient(admin_config(UNREACHABLE, security=security))
    producer.poll(0.5)  # let the background threads try (and log)
    consumer.close()
    follower.close()
    producer.flush(0)
    out, err = capfd.readouterr()
    assert SASL_PASSWORD not in caplog.text + out + err


@pytest.mark.parametrize("client", sorted(BUILDERS))
def test_every_client_sends_small_requests_without_nagles_delay(client: str) -> None:
    assert BUILDERS[client](KafkaSecurity())["socket.nagle.disable"] is True
