"""`audit calibrate`: graded answers from the topics in, a calibration published out.

Graded outcomes are the responses topic joined with the feedback topic by analysis id
(both read whole, without a consumer group, through the audit's reader and trails):
each graded analysis gives (raw score, right or not). "partially_correct" is not right,
as in the scorer's historical accuracy. The latest grade of an analysis counts.

The fit itself is pure and lives in core/calibration.py (the evaluation uses it too);
this module is the audit's side: reading the outcomes, the printed report, and
publishing the result on the compacted calibrations topic, where every scorer picks it
up from its next score on.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException

from audit.reader import Progress, WindowReader
from audit.trail import TrailBuilder
from core.calibration import Graded
from schemas.calibration import CALIBRATION_KEY, CalibrationPublished
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.producer import DeliveryError, EventProducer, producer_config
from services.common.settings import InfraSettings

CALIBRATION_SEND_TIMEOUT_S = 15.0
CLIENT_ID = "audit-calibrate"


class CalibrationNotPublished(Exception):
    """The calibration could not be delivered to the calibrations topic (the broker's
    or the producer's error is the cause)."""


def graded_outcomes(builder: TrailBuilder) -> list[Graded]:
    """(raw score, right) per analysis that has both a scored answer and a grade.

    A response from before calibration existed has no `raw_score`; its `score` was
    the raw weighted mean then, so it is used.
    """
    graded = []
    for trail in builder.trails.values():
        response = trail.response
        if response is None or response.confidence is None or not trail.feedback:
            continue
        latest = max(trail.feedback, key=lambda f: f.occurred_at)
        confidence = response.confidence
        raw = confidence.raw_score if confidence.raw_score is not None else confidence.score
        graded.append(Graded(trail.analysis_id, raw, latest.rating == "correct"))
    return graded


def read_graded(
    reader: WindowReader,
    topics: TopicNames,
    until_ms: int,
    *,
    on_total: object = None,
    progress: Progress | None = None,
) -> list[Graded]:
    """Every graded outcome on the topics; raises audit.reader.TopicUnavailable."""
    records = reader.read(
        [topics.responses, topics.feedback],
        0,
        until_ms,
        on_total=on_total,  # type: ignore[arg-type]
        progress=progress,
    )
    return graded_outcomes(TrailBuilder(topics).add_all(records))


def calibration_report(
    calibration: CalibrationPublished,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows (the isotonic points, raw -> calibrated) and the summary the command prints."""
    summary: dict[str, Any] = {
        "version": calibration.version,
        "method": calibration.method,
        "graded": calibration.n_graded,
        "right": calibration.n_correct,
        "why": calibration.reason,
        **calibration.metrics,
    }
    if calibration.method == "platt":
        summary.update(slope=calibration.slope, intercept=calibration.intercept)
    rows = [
        {"raw": x, "calibrated": y} for x, y in zip(calibration.xs, calibration.ys, strict=True)
    ]
    return rows, summary


def publish_calibration(infra: InfraSettings, calibration: CalibrationPublished) -> str:
    """Send `calibration` to the calibrations topic (its topics created if missing) and
    wait for the broker's acknowledgement; the topic's name. Raises CalibrationNotPublished."""
    topics, bootstrap, security = infra.topics, infra.kafka_bootstrap_servers, infra.kafka_security
    try:
        create_topics(bootstrap, topics.specs(), security=security)
        producer = EventProducer(
            config=producer_config(bootstrap, client_id=CLIENT_ID, security=security)
        ).start()
        try:
            producer.send_and_wait(
                topics.calibrations, CALIBRATION_KEY, calibration, CALIBRATION_SEND_TIMEOUT_S
            )
        finally:
            producer.close()
    except (DeliveryError, KafkaException) as err:
        raise CalibrationNotPublished(str(err)) from err
    return topics.calibrations
