"""Publishing a query into the event pipeline, with a short deadline.

The app's producer gives up after `kafka_delivery_timeout_s` (a few seconds, not
the services' thirty), because a caller is waiting: when the broker does not
acknowledge in time, the request falls back to the direct path instead.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from schemas.query import QueryRequested
from services.common.producer import DeliveryError, EventProducer, producer_config

logger = logging.getLogger(__name__)

ACK_GRACE_S = 0.5
"""Wait this much past the producer's own timeout, so its DeliveryError (with reason) wins."""


class PipelineUnavailable(Exception):
    """The query could not be handed to Kafka; the direct path must answer."""


class QueryPublisher:
    """Sends QueryRequested events keyed by query id; nothing connects until the first send."""

    def __init__(self, *, producer: EventProducer, topic: str, delivery_timeout_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = delivery_timeout_s

    @staticmethod
    def producer_for(bootstrap_servers: str, delivery_timeout_s: float) -> EventProducer:
        config: dict[str, Any] = producer_config(
            bootstrap_servers,
            client_id=f"strategist-app-{os.getpid()}",
            delivery_timeout_ms=int(delivery_timeout_s * 1000),
        )
        return EventProducer(config=config)

    def publish(self, query: QueryRequested) -> None:
        """Returns once the broker has the event; raises PipelineUnavailable otherwise."""
        try:
            self._producer.send_and_wait(
                self._topic, query.query_id, query, timeout_s=self._timeout_s + ACK_GRACE_S
            )
        except DeliveryError as err:
            raise PipelineUnavailable(str(err)) from err
        except Exception as err:  # librdkafka configuration or state errors
            raise PipelineUnavailable(f"{type(err).__name__}: {err}") from err

    def close(self) -> None:
        self._producer.close(timeout_s=self._timeout_s)
