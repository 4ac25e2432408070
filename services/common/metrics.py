"""Prometheus metrics of the service processes: the names, the hooks, the `/metrics` server.

Every metric a service exports is defined here, once, so the names stay stable and
docs/metrics.md can list them from one place. The hooks are built to cost a counter
increment or a histogram observation on the hot path and nothing else: no I/O, no
Kafka or Redis round trip. Label children are bound once per worker (`WorkerMetrics`),
so a message costs no label lookup either. Consumer lag comes from librdkafka's own
statistics (`lag_sampling`), which the consumer computes from its committed offset and
the partition's high watermark on the fetches it makes anyway, every
`LAG_SAMPLE_INTERVAL_MS`; nothing is asked of the broker for it.

The server (`serve_metrics`) is off unless `METRICS_PORT` is set: each process on a
host needs its own port. The app (gunicorn, several processes) has its own endpoint in
strategist/metrics.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIServer

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from schemas.attempt import ProviderAttempt
from schemas.health import ProviderState, ProviderStatus

logger = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""From a millisecond Kafka hop up to a slow provider call within the 25 s route budget."""
LAG_SAMPLE_INTERVAL_MS = 5_000
"""How often librdkafka reports its statistics (and so the consumer lag)."""
PROVIDER_STATES: tuple[ProviderState, ...] = ("healthy", "degraded", "down")
NO_CAMPAIGN = "none"
"""The `campaign` label of a query sent without a campaign."""

HOP_DELAY = Histogram(
    "strategist_hop_delay_seconds",
    "Time from an event's production (its Kafka timestamp) to its consumption by a worker.",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS_S,
)
HANDLE_SECONDS = Histogram(
    "strategist_message_handle_seconds",
    "Time a worker spent on one message: decode, handle, outputs acknowledged by the broker.",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS_S,
)
MESSAGES_HANDLED = Counter(
    "strategist_messages_handled",
    "Messages a worker finished, by outcome (processed or dead_lettered).",
    ["service", "topic", "outcome"],
)
MESSAGES_IN_FLIGHT = Gauge(
    "strategist_messages_in_flight",
    "Messages a worker holds in its handlers now (the dispatcher: queries being dispatched).",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "strategist_consumer_lag_messages",
    "Messages between the group's committed offset and the partition's high watermark, as "
    "librdkafka last reported them (partitions this instance owns).",
    ["service", "topic", "partition"],
)
PROVIDER_ATTEMPTS = Counter(
    "strategist_provider_attempts",
    "Finished provider calls by provider, model and outcome (success, error, timeout).",
    ["provider", "model", "outcome"],
)
PROVIDER_ATTEMPT_SECONDS = Histogram(
    "strategist_provider_attempt_seconds",
    "Duration of finished provider calls as the dispatcher measured them.",
    ["provider", "model"],
    buckets=LATENCY_BUCKETS_S,
)
PROVIDER_COST = Counter(
    "strategist_provider_cost_usd",
    "Cost of provider calls in US dollars, by campaign and provider.",
    ["campaign", "provider"],
)
PROVIDER_HEALTH = Gauge(
    "strategist_provider_health",
    "1 for the state the health service last published for a provider it owns, 0 for the "
    "others.",
    ["provider", "state"],
)


class WorkerMetrics:
    """The per-message hooks of one `EventWorker` (one service, one topic)."""

    def __init__(self, service: str, topic: str, *, in_flight: Callable[[], int]) -> None:
        """`in_flight` is read at scrape time only (the worker's count of running tasks)."""
        self._hop = HOP_DELAY.labels(service, topic)
        self._handle = HANDLE_SECONDS.labels(service, topic)
        self._outcomes = {
            outcome: MESSAGES_HANDLED.labels(service, topic, outcome)
            for outcome in ("processed", "dead_lettered")
        }
        MESSAGES_IN_FLIGHT.labels(service, topic).set_function(in_flight)

    def consumed(self, timestamp: tuple[int, int], now_s: float | None = None) -> None:
        """A message arrived; `timestamp` is `Message.timestamp()` (kind, epoch ms). A
        producer clock ahead of ours counts as no delay rather than a negative one."""
        kind, epoch_ms = timestamp
        if kind == TIMESTAMP_NOT_AVAILABLE or epoch_ms <= 0:
            return
        now = time.time() if now_s is None else now_s
        self._hop.observe(max(0.0, now - epoch_ms / 1000.0))

    def handled(self, outcome: str, seconds: float) -> None:
        """A message is finished: `processed` or `dead_lettered`, after `seconds`."""
        self._outcomes[outcome].inc()
        self._handle.observe(seconds)


def record_attempt(attempt: ProviderAttempt, *, campaign_id: str | None) -> None:
    """Count a finished attempt and its cost (call once per attempt, not for `started`)."""
    PROVIDER_ATTEMPTS.labels(attempt.provider, attempt.model, attempt.outcome).inc()
    PROVIDER_ATTEMPT_SECONDS.labels(attempt.provider, attempt.model).observe(
        attempt.latency_ms / 1000.0
    )
    if attempt.cost_usd > 0:
        PROVIDER_COST.labels(campaign_id or NO_CAMPAIGN, attempt.provider).inc(attempt.cost_usd)


def record_status(status: ProviderStatus) -> None:
    """The provider's state is now `status.state`: 1 for it, 0 for the other states."""
    for state in PROVIDER_STATES:
        PROVIDER_HEALTH.labels(status.provider, state).set(1.0 if state == status.state else 0.0)


def forget_status(provider: str) -> None:
    """Another health instance answers for `provider` now: stop exporting its state here."""
    for state in PROVIDER_STATES:
        with contextlib.suppress(KeyError):  # never exported here
            PROVIDER_HEALTH.remove(provider, state)


class LagSampler:
    """librdkafka's `stats_cb`: turns its statistics into `strategist_consumer_lag_messages`.

    Runs on the consumer thread every `LAG_SAMPLE_INTERVAL_MS`. Partitions the consumer
    no longer fetches (revoked, or lag unknown) are removed rather than left at a stale
    value.
    """

    def __init__(self, service: str) -> None:
        self._service = service
        self._shown: set[tuple[str, str]] = set()

    def __call__(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)
        except ValueError:
            logger.warning("%s: unreadable librdkafka statistics", self._service)
            return
        current: dict[tuple[str, str], int] = {}
        for topic, info in (stats.get("topics") or {}).items():
            for partition, p in (info.get("partitions") or {}).items():
                lag = p.get("consumer_lag", -1)
                if int(partition) >= 0 and p.get("fetch_state") == "active" and lag >= 0:
                    current[(topic, partition)] = lag
        for topic, partition in self._shown - current.keys():
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._service, topic, partition)
        for (topic, partition), lag in current.items():
            CONSUMER_LAG.labels(self._service, topic, partition).set(lag)
        self._shown = set(current)


def lag_sampling(service: str) -> dict[str, Any]:
    """Consumer settings that make librdkafka report lag to `LagSampler`."""
    return {"statistics.interval.ms": LAG_SAMPLE_INTERVAL_MS, "stats_cb": LagSampler(service)}


def serve_metrics(service: str, *, host: str, port: int) -> WSGIServer | None:
    """Serve `/metrics` on `host:port` in a daemon thread; None when off (port 0) or when
    the port is taken (logged: the service is worth more than its metrics)."""
    if not port:
        return None
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as err:
        logger.error("%s: no /metrics server on %s:%d: %s", service, host, port, err)
        return None
    logger.info("%s serving /metrics on %s:%d", service, host, port)
    return server
