"""Idempotent topic creation (`python -m services.common.admin create-topics`)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.topics import TopicNames, TopicSpec
from services.common.failures import retry_delay_s
from services.common.kafka_config import admin_config
from services.common.kafka_security import KafkaSecurity
from services.common.logs import configure_logging
from services.common.settings import InfraSettings

logger = logging.getLogger(__name__)

ADMIN_TIMEOUT_S = 15.0
REPLICATION_FACTOR = 1
UNREACHABLE_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_CONTROLLER,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.BROKER_NOT_AVAILABLE,
    }
)
"""Admin errors that mean the broker is away or starting, not that it refused."""


def create_topics(
    bootstrap_servers: str, specs: list[TopicSpec], *, security: KafkaSecurity
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created.

    Raises KafkaException when the broker cannot be reached or refuses a topic.
    """
    admin = AdminClient(admin_config(bootstrap_servers, security=security))
    existing = set(admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=REPLICATION_FACTOR,
                config=s.config,
            )
            for s in missing
        ],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_S)
            created.append(name)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # a racing instance
                raise
    return created


def ensure_topics(settings: InfraSettings) -> list[str]:
    """Create every topic of the configured namespace (start-up step of each process)."""
    return create_topics(
        settings.kafka_bootstrap_servers,
        TopicNames(settings.topic_namespace).specs(),
        security=settings.kafka_security,
    )


def ensure_topics_when_reachable(
    settings: InfraSettings,
    *,
    create: Callable[[InfraSettings], list[str]] = ensure_topics,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """`ensure_topics`, retried with backoff until the broker answers.

    A service started while the broker is away (a restart, a slow start-up order)
    waits for it, as its consumers and producers would, instead of exiting: nobody
    may be there to restart it. A refused topic (bad configuration) still raises.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return create(settings)
        except KafkaException as err:
            if not _unreachable(err):
                raise
            delay_s = retry_delay_s(attempt)
            logger.warning(
                "broker %s unreachable (%s); creating topics again in %.1fs (attempt %d)",
                settings.kafka_bootstrap_servers,
                err.args[0].str() if err.args else err,
                delay_s,
                attempt,
            )
            sleep(delay_s)


def _unreachable(err: KafkaException) -> bool:
    """The broker could not be reached or did not answer in time (worth waiting for)."""
    error = err.args[0] if err.args else None
    if not isinstance(error, KafkaError):
        return False
    return error.code() in UNREACHABLE_CODES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.admin")
    parser.add_argument("command", choices=["create-topics", "list-topics"])
    args = parser.parse_args(argv)
    settings = InfraSettings()
    configure_logging(settings.log_level)
    if args.command == "create-topics":
        created = ensure_topics(settings)
        for spec in settings.topics.specs():
            state = "created" if spec.name in created else "exists"
            print(f"{spec.name:45s} partitions={spec.partitions} {state}")
    else:
        for spec in settings.topics.specs():
            print(spec.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
