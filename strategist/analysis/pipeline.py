"""Publishing a query into the event pipeline, with a short deadline.

The app's producer gives up after `kafka_delivery_timeout_s` (a few seconds, not
the services' thirty), because a caller is waiting: when the broker does not
acknowledge in time, the request falls back to the direct path instead.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
from typing import Any

from confluent_kafka import KafkaException

from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.common.kafka_security import KafkaSecurity
from services.common.producer import DeliveryError, EventProducer, producer_config
from services.common.tracing import bind_analysis

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
    def producer_for(
        bootstrap_servers: str, delivery_timeout_s: float, *, security: KafkaSecurity
    ) -> EventProducer:
        config: dict[str, Any] = producer_config(
            bootstrap_servers,
            client_id=f"strategist-app-{os.getpid()}",
            delivery_timeout_ms=int(delivery_timeout_s * 1000),
            security=security,
        )
        return EventProducer(config=config)

    def publish(self, query: QueryRequested) -> None:
        """Returns once the broker has the event; raises PipelineUnavailable when the broker
        did not take it.

        Only a failed delivery means "Kafka is down". An event that cannot be serialised
        (bad input that got past validation: a bug) raises its own error, which the API
        answers with a logged 500 instead of quietly taking the direct path.
        """
        bind_analysis(query)  # the request's span and log lines name the analysis
        try:
            self._producer.send_and_wait(
                self._topic, query.query_id, query, timeout_s=self._timeout_s + ACK_GRACE_S
            )
        except DeliveryError as err:
            raise PipelineUnavailable(str(err)) from err
        except KafkaException as err:  # librdkafka state errors (e.g. a fatal client error)
            raise PipelineUnavailable(f"{type(err).__name__}: {err}") from err

    def close(self) -> None:
        self._producer.close(timeout_s=self._timeout_s)


RECORD_RETRY_WINDOW_S = 600.0
RECORD_FIRST_RETRY_S = 0.5
RECORD_MAX_RETRY_S = 10.0


class AnswerRecorder:
    """Puts the direct path's answers on the responses topic, where the pipeline's are.

    The topic is the durable record that `GET /analyses/<id>` falls back to when Redis
    lost its data, so direct answers belong there too. Not awaited (the caller already
    has the answer), but not best effort either: the direct path answers precisely when
    Kafka is in trouble, so a send that fails is sent again with backoff, from a timer
    thread, until it lands or `RECORD_RETRY_WINDOW_S` has passed.
    """

    def __init__(self, *, producer: EventProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def record(self, response: AnalysisResponded) -> None:
        self._send(response, attempt=1, give_up_at=time.monotonic() + RECORD_RETRY_WINDOW_S)

    def _send(self, response: AnalysisResponded, *, attempt: int, give_up_at: float) -> None:
        analysis_id = response.analysis_id

        def retry_later(error: BaseException) -> None:
            delay_s = min(RECORD_FIRST_RETRY_S * 2 ** (attempt - 1), RECORD_MAX_RETRY_S)
            if time.monotonic() + delay_s > give_up_at:
                logger.error("direct answer %s never reached the topic: %s", analysis_id, error)
                return
            logger.warning(
                "direct answer %s not recorded on the topic yet (%s); retrying in %.1fs",
                analysis_id,
                error,
                delay_s,
            )
            timer = threading.Timer(
                delay_s, self._send, (response,), {"attempt": attempt + 1, "give_up_at": give_up_at}
            )
            timer.daemon = True
            timer.start()

        def delivered(future: concurrent.futures.Future[None]) -> None:
            error = future.exception()
            if error is not None:
                retry_later(error)

        try:
            self._producer.send(self._topic, analysis_id, response).add_done_callback(delivered)
        except KafkaException as err:
            retry_later(err)
