"""Infrastructure settings every process shares (unprefixed env names).

Service-specific settings classes embed `InfraSettings` and add their own
env-prefixed fields (e.g. `DISPATCHER_MAX_IN_FLIGHT`).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import DEFAULT_NAMESPACE, TopicNames
from services.common.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class InfraSettings(BaseSettings):
    """Kafka, Redis, topic namespace and logging: `KAFKA_BOOTSTRAP_SERVERS`, `REDIS_URL`, ..."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    redis_url: str = Field(
        default=DEFAULT_REDIS_URL,
        repr=False,
        description="Redis, with its password (`redis://:PASSWORD@host:port/0`; "
        "scripts/redis.sh url prints the local one). Kept out of reprs: it holds a secret.",
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="librdkafka security.protocol: SASL_SSL (SCRAM) or SSL (mutual TLS) for a "
        "real cluster; PLAINTEXT for the local loopback broker. See docs/security.md.",
    )
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = Field(
        default=None, description="CA bundle (PEM) that signed the brokers' certificates."
    )
    kafka_ssl_certificate_location: str | None = Field(
        default=None, description="This client's certificate (PEM), for mutual TLS."
    )
    kafka_ssl_key_location: str | None = Field(
        default=None, description="This client's private key (PEM), for mutual TLS."
    )
    kafka_ssl_key_password: SecretStr | None = None
    topic_namespace: str = DEFAULT_NAMESPACE
    log_level: str = "INFO"
    result_ttl_s: int = 24 * 3600
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL for the decision records (`postgresql+psycopg://...`); "
        "scripts/postgres.sh url prints the local one. A secret: never logged.",
    )
    service_instance_id: str | None = Field(
        default=None,
        description="Stable id of this instance among its service's instances (e.g. 'host-1'); "
        "when set, the consumer uses static membership, so a restart takes its partitions "
        "back at once. Two live instances of one service must never share it.",
    )

    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of this service process's Prometheus `/metrics` server "
        "(services/common/metrics.py); 0 (the default): no server. Each process on one host "
        "needs its own port. See docs/metrics.md.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the `/metrics` server listens on: loopback by default, like the "
        "local broker and Redis; `0.0.0.0` where Prometheus scrapes over a network (compose).",
    )

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The Kafka settings every client gets (`services.common.kafka_security`)."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_ca_location=self.kafka_ssl_ca_location,
            ssl_certificate_location=self.kafka_ssl_certificate_location,
            ssl_key_location=self.kafka_ssl_key_location,
            ssl_key_password=self.kafka_ssl_key_password,
        )

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_namespace)

    def group_id(self, service: str) -> str:
        """Consumer group per service and namespace, so instances of one service share work."""
        return f"{self.topic_namespace}.{service}"
