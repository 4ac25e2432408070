"""The calibration in force: the latest event on the compacted calibrations topic.

Every scorer process follows the topic from its beginning without a consumer group
(`TopicFollower`), so each one sees every calibration, and a new one published by
`python -m audit calibrate` is applied from the next score on, without a restart.
Until one arrives the identity is in force (`schemas.calibration.IDENTITY`).

At start-up the scorer waits (bounded) until the follower has read up to the end
the topic had, so a restarted scorer does not score with the identity while a fitted
calibration sits on the topic.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, TopicPartition

from schemas.calibration import IDENTITY, CalibrationPublished
from services.common.follower import METADATA_TIMEOUT_S, TopicFollower, follower_config
from services.common.kafka_security import KafkaSecurity

logger = logging.getLogger(__name__)

CATCH_UP_POLL_S = 0.05


class CalibrationView:
    """Holds the latest calibration read; `current()` is safe from any thread."""

    def __init__(self) -> None:
        self._current: CalibrationPublished = IDENTITY
        self._next_offset = 0
        self._seen = threading.Condition()

    def current(self) -> CalibrationPublished:
        return self._current

    def on_record(
        self, _key: bytes | None, value: bytes | None, _partition: int, offset: int
    ) -> None:
        """Follower callback. A record that does not decode is logged (by the follower) and
        skipped; the calibration in force stays."""
        try:
            if value is not None:
                calibration = CalibrationPublished.from_bytes(value)
                if calibration.version != self._current.version:
                    logger.info(
                        "calibration %s in force (%s, %d graded): %s",
                        calibration.version,
                        calibration.method,
                        calibration.n_graded,
                        calibration.reason,
                    )
                self._current = calibration
        finally:
            with self._seen:
                self._next_offset = max(self._next_offset, offset + 1)
                self._seen.notify_all()

    def wait_caught_up(self, end_offset: int, timeout_s: float) -> bool:
        """True once every record before `end_offset` has been read."""
        deadline = time.monotonic() + timeout_s
        with self._seen:
            while self._next_offset < end_offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._seen.wait(min(left, CATCH_UP_POLL_S))
        return True


def calibration_follower(
    view: CalibrationView, *, bootstrap_servers: str, security: KafkaSecurity, topic: str
) -> TopicFollower:
    return TopicFollower(
        name="calibrations",
        config=follower_config(bootstrap_servers, owner="scorer-calibrations", security=security),
        topic=topic,
        start_at="beginning",
        on_record=view.on_record,
    )


def end_offset(bootstrap_servers: str, topic: str, *, security: KafkaSecurity) -> int:
    """Where the (single-partition) topic ends now; 0 when it cannot be read."""
    consumer = Consumer(
        follower_config(bootstrap_servers, owner="scorer-calibrations-end", security=security)
    )
    try:
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, 0), timeout=METADATA_TIMEOUT_S
        )
        return int(high)
    except Exception as err:  # a missing topic or broker: start with what arrives
        logger.warning("cannot read the end of %s (%s); not waiting for it", topic, err)
        return 0
    finally:
        consumer.close()


def start_following(
    view: CalibrationView,
    *,
    bootstrap_servers: str,
    security: KafkaSecurity,
    topic: str,
    catch_up_s: float,
) -> TopicFollower:
    """Start the follower and wait up to `catch_up_s` for the calibration already published."""
    follower = calibration_follower(
        view, bootstrap_servers=bootstrap_servers, security=security, topic=topic
    ).start()
    end = end_offset(bootstrap_servers, topic, security=security)
    if not view.wait_caught_up(end, catch_up_s):
        logger.warning(
            "calibrations not read within %.0fs; scoring with %s until they are",
            catch_up_s,
            view.current().version,
        )
    return follower
