"""Kafka client security (SASL_SSL with SCRAM, or mutual TLS) as one value object.

`KafkaSecurity` is built once per process from its settings (`InfraSettings.kafka_security`,
from `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*`; docs/security.md has an
example) and handed to every config builder (`services.common.kafka_config`), the way
quix-streams passes a `ConnectionConfig` and FastStream a security object: nothing here
reads the environment, and this module imports nothing from the settings.

Secrets are `SecretStr` until the moment the librdkafka dict is built; the dict itself
is handed to the client and never logged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaSecurity(BaseModel):
    """librdkafka's security settings; PLAINTEXT (the local loopback broker) by default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        """Refuse a half-configured client at start-up rather than fail at the first connect."""
        if self.protocol.startswith("SASL_"):
            missing = [
                name
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                names = ", ".join(f"KAFKA_{n.upper()}" for n in missing)
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs {names}")
        if (self.ssl_certificate_location is None) != (self.ssl_key_location is None):
            raise ValueError(
                "mutual TLS needs both KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION"
            )
        return self

    def librdkafka(self) -> dict[str, str]:
        """The librdkafka properties (secrets revealed here only, for the client)."""
        config: dict[str, str] = {"security.protocol": self.protocol}
        options: dict[str, str | SecretStr | None] = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        for key, value in options.items():
            if isinstance(value, SecretStr):
                config[key] = value.get_secret_value()
            elif value is not None:
                config[key] = value
        return config
