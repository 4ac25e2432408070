"""Infrastructure settings every process shares (unprefixed env names).

Service-specific settings classes embed `InfraSettings` and add their own
env-prefixed fields (e.g. `DISPATCHER_MAX_IN_FLIGHT`).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import DEFAULT_NAMESPACE, TopicNames

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class InfraSettings(BaseSettings):
    """Kafka, Redis, topic namespace and logging: `KAFKA_BOOTSTRAP_SERVERS`, `REDIS_URL`, ..."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    redis_url: str = DEFAULT_REDIS_URL
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

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_namespace)

    def group_id(self, service: str) -> str:
        """Consumer group per service and namespace, so instances of one service share work."""
        return f"{self.topic_namespace}.{service}"
