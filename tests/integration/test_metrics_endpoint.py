"""`/metrics` after a real query through the real stack: the app (gunicorn, two workers,
multiprocess mode) and the services (METRICS_PORT) show their counters moved.

Real broker, Redis and PostgreSQL (the app's API key), the provider emulator, the
classifier, dispatcher, scorer and health service as processes in a fresh namespace
(deleted at the end by the `topics` fixture). The local model is not started: the
question asks for live data (Perplexity), and the health service reports the local
model down, which the health gauge shows.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.emulator_process import EmulatorControl, running_emulator
from harness.processes import ManagedProcess, free_port, gunicorn_app, infra_env, running
from schemas.topics import TopicNames
from tests.integration.conftest import ServiceFactory
from tests.support.keys import test_key

API = "/api/v1/strategist"
POLLS = "latest polls in Arizona this week"
APP_READY_TIMEOUT_S = 90.0
QUERY_TIMEOUT_S = 90.0
METRICS_WAIT_S = 30.0
"""Hang guard for values that appear on their own schedule (lag every 5 s, probes every
1 s); far above both."""
SERVICES = ("classifier", "dispatcher", "scorer", "health")
HEALTHZ_CALLS = 6

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(url: str) -> Samples:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _wait_for(read: Callable[[], Samples], ok: Callable[[Samples], bool], what: str) -> Samples:
    deadline = time.monotonic() + METRICS_WAIT_S
    samples = read()
    while not ok(samples):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not seen in {METRICS_WAIT_S}s")
        time.sleep(0.5)
        samples = read()
    return samples


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


def test_metrics_of_the_app_and_the_services_move_after_a_real_query(
    topics: TopicNames,
    start_service: ServiceFactory,
    emulator: EmulatorControl,
    kafka_bootstrap: str,
    redis_url: str,
    database_url: str,
) -> None:
    dead_local_model = f"http://127.0.0.1:{free_port()}/v1"
    common = {"EMULATOR_URL": emulator.base_url, "LOCAL_MODEL_URL": dead_local_model}
    ports = {name: free_port() for name in SERVICES}
    services: dict[str, ManagedProcess] = {
        name: start_service(name, METRICS_PORT=str(ports[name]), **common) for name in SERVICES
    }
    service_metrics = {
        name: functools.partial(_samples, f"http://127.0.0.1:{port}/metrics")
        for name, port in ports.items()
    }
    app_port = free_port()
    app_env = infra_env(
        topics.namespace,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        **common,
    )
    base_url = f"http://127.0.0.1:{app_port}"
    key = test_key(database_url, f"{topics.namespace}-metrics")
    with running(gunicorn_app("app-metrics", app_env, app_port)) as (app,):
        app.wait_until(
            lambda: httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200,
            APP_READY_TIMEOUT_S,
            "/healthz",
        )
        with httpx.Client(base_url=base_url, headers=key.header, timeout=QUERY_TIMEOUT_S) as c:
            answer = c.post(f"{API}/analyze", json={"query": POLLS, "campaign_id": "az-metrics"})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["routing"]["path"] == "intelligent"
            provider, model = body["routing"]["provider"], body["routing"]["model"]
            for _ in range(HEALTHZ_CALLS):
                assert c.get("/healthz").status_code == 200

        # The app: one scrape sums both gunicorn workers, whichever answers it.
        analyze = f"{API}/analyze"
        for _ in range(3):
            app_samples = _samples(f"{base_url}/metrics")
            assert _value(app_samples, "strategist_http_requests_total",
                          route=analyze, method="POST", status="200") == 1
            assert _value(app_samples, "strategist_http_request_duration_seconds_count",
                          route=analyze, method="POST", path="intelligent") == 1
            assert _value(app_samples, "strategist_http_requests_total",
                          route="/healthz", method="GET", status="200") >= HEALTHZ_CALLS + 1
            assert _value(app_samples, "strategist_http_requests_in_flight", route=analyze) == 0

    # The dispatcher: the attempt that answered, its hop from the classifier, its message.
    dispatched = service_metrics["dispatcher"]()
    assert _value(dispatched, "strategist_provider_attempts_total",
                  provider=provider, model=model, outcome="success") == 1
    assert _value(dispatched, "strategist_provider_cost_usd_total",
                  campaign="az-metrics", provider=provider) > 0
    hop = {"service": "dispatcher", "topic": topics.classified}
    assert _value(dispatched, "strategist_hop_delay_seconds_count", **hop) == 1
    assert _value(dispatched, "strategist_messages_handled_total",
                  **hop, outcome="processed") == 1
    assert _value(dispatched, "strategist_messages_in_flight", **hop) == 0
    # Lag comes from librdkafka's statistics, every few seconds, once the offset committed.
    _wait_for(
        service_metrics["dispatcher"],
        lambda s: any(name == "strategist_consumer_lag_messages"
                      and dict(labels).get("topic") == topics.classified
                      and value == 0 for (name, labels), value in s.items()),
        "the dispatcher's consumer lag",
    )

    # The scorer consumed the dispatcher's completion; the classifier the app's query.
    scored = service_metrics["scorer"]()
    assert _value(scored, "strategist_hop_delay_seconds_count",
                  service="scorer", topic=topics.completions) == 1
    classified = service_metrics["classifier"]()
    assert _value(classified, "strategist_hop_delay_seconds_count",
                  service="classifier", topic=topics.queries) == 1

    # Health: every provider in exactly one state; the local model (not running) is down.
    def states(samples: Samples) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for (name, labels), value in samples.items():
            if name == "strategist_provider_health" and value == 1:
                found.setdefault(dict(labels)["provider"], []).append(dict(labels)["state"])
        return found

    health = _wait_for(
        service_metrics["health"],
        lambda s: states(s).get("local") == ["down"] and len(states(s)) == 3,
        "a state for every provider",
    )
    assert all(len(one) == 1 for one in states(health).values()), states(health)
    assert all(service.alive() for service in services.values())
