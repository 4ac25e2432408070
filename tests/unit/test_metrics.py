"""What the metrics count: service hooks, lag from librdkafka's statistics, the app's
request metrics and its gunicorn multiprocess set-up. No network.

Metrics live in the process-wide registry, so each test reads deltas under labels of
its own (a unique service, topic, provider model or campaign name).
"""

from __future__ import annotations

import json
import os
import runpy
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE
from flask import Flask, Response
from prometheus_client import REGISTRY

from schemas.attempt import ProviderAttempt
from schemas.health import ProviderStatus
from services.common import metrics
from services.common.settings import InfraSettings
from services.common.startup import worker_consumer_config
from strategist import create_app
from strategist.metrics import answer_path
from strategist.runtime import Runtime
from strategist.settings import RoutingSettings
from tests.unit.strategist.conftest import Parts, admin_client, make_settings
from tests.unit.strategist.fakes import answered

API = "/api/v1/strategist"
ROOT = Path(__file__).resolve().parents[2]


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- the workers' hooks -----------------------------------------------------------------


def test_hop_delay_is_now_minus_the_kafka_timestamp_never_negative() -> None:
    service, topic = _unique("svc"), _unique("topic")
    hooks = metrics.WorkerMetrics(service, topic, in_flight=lambda: 0)
    hist = "strategist_hop_delay_seconds"
    labels = {"service": service, "topic": topic}

    hooks.consumed((TIMESTAMP_CREATE_TIME, 1_000_000), now_s=1_000.004)  # 4 ms after
    hooks.consumed((TIMESTAMP_CREATE_TIME, 1_000_500), now_s=1_000.0)  # producer clock ahead
    hooks.consumed((TIMESTAMP_NOT_AVAILABLE, 0), now_s=1_000.0)  # no timestamp: not counted

    assert _value(f"{hist}_count", **labels) == 2
    assert _value(f"{hist}_sum", **labels) == pytest.approx(0.004, abs=1e-6)
    assert _value(f"{hist}_bucket", **labels, le="0.005") == 2
    assert _value(f"{hist}_bucket", **labels, le="0.001") == 1  # the clamped one


def test_handled_messages_are_counted_by_outcome_and_timed() -> None:
    service, topic = _unique("svc"), _unique("topic")
    in_flight = {"n": 3}
    hooks = metrics.WorkerMetrics(service, topic, in_flight=lambda: in_flight["n"])
    labels = {"service": service, "topic": topic}

    hooks.handled("processed", 0.02)
    hooks.handled("processed", 0.03)
    hooks.handled("dead_lettered", 0.5)

    counted = "strategist_messages_handled_total"
    assert _value(counted, **labels, outcome="processed") == 2
    assert _value(counted, **labels, outcome="dead_lettered") == 1
    assert _value("strategist_message_handle_seconds_count", **labels) == 3
    assert _value("strategist_message_handle_seconds_sum", **labels) == pytest.approx(0.55)
    assert _value("strategist_messages_in_flight", **labels) == 3  # read at scrape time
    in_flight["n"] = 0
    assert _value("strategist_messages_in_flight", **labels) == 0


# --- the dispatcher's attempts and the health states ------------------------------------


def _attempt(model: str, outcome: str, cost_usd: float) -> ProviderAttempt:
    return ProviderAttempt(
        query_id="q1", provider="gemini", model=model, attempt_number=1,
        outcome=outcome, latency_ms=250.0, cost_usd=cost_usd,  # type: ignore[arg-type]
    )  # fmt: skip


def test_attempts_count_by_provider_model_and_outcome_and_cost_by_campaign() -> None:
    model, campaign = _unique("model"), _unique("campaign")
    metrics.record_attempt(_attempt(model, "success", 0.002), campaign_id=campaign)
    metrics.record_attempt(_attempt(model, "success", 0.003), campaign_id=campaign)
    metrics.record_attempt(_attempt(model, "timeout", 0.0), campaign_id=None)

    attempts = "strategist_provider_attempts_total"
    assert _value(attempts, provider="gemini", model=model, outcome="success") == 2
    assert _value(attempts, provider="gemini", model=model, outcome="timeout") == 1
    cost = "strategist_provider_cost_usd_total"
    assert _value(cost, campaign=campaign, provider="gemini") == pytest.approx(0.005)
    seconds = "strategist_provider_attempt_seconds"
    assert _value(f"{seconds}_count", provider="gemini", model=model) == 3
    assert _value(f"{seconds}_sum", provider="gemini", model=model) == pytest.approx(0.75)


def _status(provider: str, state: str) -> ProviderStatus:
    return ProviderStatus(
        provider=provider, state=state, reason="test", error_rate=0.0  # type: ignore[arg-type]
    )


def test_health_gauge_is_one_for_the_current_state_and_gone_when_forgotten() -> None:
    provider = "perplexity"
    metrics.record_status(_status(provider, "down"))
    states = {
        s: REGISTRY.get_sample_value("strategist_provider_health", {"provider": provider,
                                                                    "state": s})
        for s in metrics.PROVIDER_STATES
    }
    assert states == {"healthy": 0.0, "degraded": 0.0, "down": 1.0}
    metrics.record_status(_status(provider, "healthy"))
    assert _value("strategist_provider_health", provider=provider, state="healthy") == 1
    assert _value("strategist_provider_health", provider=provider, state="down") == 0

    metrics.forget_status(provider)
    metrics.forget_status(provider)  # twice is harmless
    assert REGISTRY.get_sample_value(
        "strategist_provider_health", {"provider": provider, "state": "healthy"}
    ) is None


# --- consumer lag from librdkafka's statistics ------------------------------------------


def _stats(topic: str, partitions: dict[str, tuple[str, int]]) -> str:
    """A librdkafka statistics document with the fields the sampler reads."""
    return json.dumps({
        "name": "consumer-1",
        "type": "consumer",
        "topics": {
            topic: {
                "topic": topic,
                "partitions": {
                    number: {"partition": int(number), "fetch_state": state,
                             "consumer_lag": lag, "hi_offset": 100}
                    for number, (state, lag) in partitions.items()
                },
            }
        },
    })  # fmt: skip


def test_lag_is_reported_for_fetched_partitions_and_dropped_after_a_revoke() -> None:
    service, topic = _unique("svc"), _unique("topic")
    sampler = metrics.LagSampler(service)

    def lag(partition: str) -> float | None:
        return REGISTRY.get_sample_value(
            "strategist_consumer_lag_messages",
            {"service": service, "topic": topic, "partition": partition},
        )

    sampler(_stats(topic, {
        "0": ("active", 7), "1": ("active", 0), "2": ("active", -1),  # -1: not known yet
        "3": ("none", 40), "-1": ("none", 0),  # not ours; librdkafka's internal partition
    }))  # fmt: skip
    assert (lag("0"), lag("1"), lag("2"), lag("3"), lag("-1")) == (7, 0, None, None, None)

    sampler(_stats(topic, {"0": ("none", -1), "1": ("active", 12)}))  # 0 revoked
    assert (lag("0"), lag("1")) == (None, 12)

    sampler("not json")  # an unreadable document changes nothing
    assert lag("1") == 12


def test_lag_sampling_is_configured_only_when_metrics_are_served() -> None:
    off = worker_consumer_config(InfraSettings(metrics_port=0), "dispatcher")
    assert "stats_cb" not in off and "statistics.interval.ms" not in off
    on = worker_consumer_config(InfraSettings(metrics_port=9102), "dispatcher")
    assert isinstance(on["stats_cb"], metrics.LagSampler)
    assert on["statistics.interval.ms"] == metrics.LAG_SAMPLE_INTERVAL_MS


def test_no_metrics_server_unless_a_port_is_set() -> None:
    assert metrics.serve_metrics("svc", host="127.0.0.1", port=0) is None


# --- the app ----------------------------------------------------------------------------


def _app(**overrides: object) -> tuple[Flask, Parts]:
    settings = make_settings(**overrides)
    app = create_app(settings)
    parts = Parts(settings)
    runtime: Runtime = app.extensions["strategist"]
    runtime.build = parts.components
    return app, parts


@pytest.mark.parametrize(
    ("endpoint", "status", "body", "path"),
    [
        ("strategist_api.analyze", 200, {"routing": {"path": "intelligent"}}, "intelligent"),
        ("strategist_api.analyze", 502, {"routing": {"path": "direct"}}, "direct"),
        ("strategist_api.get_analysis", 200, {"routing": {"path": "direct"}}, "direct"),
        ("openai_compat.chat_completions", 200, {"x_routing": {"path": "intelligent"}},
         "intelligent"),
        ("openai_compat.chat_completions", 400, {"error": {"code": "x"}}, "none"),
        ("strategist_api.analyze", 202, {"status": "pending"}, "none"),  # no answer yet
        ("strategist_api.analyze", 200, {"routing": None}, "none"),
        ("strategist_api.analyze", 200, ["not", "an", "object"], "none"),
        ("probes.healthz", 200, {"routing": {"path": "direct"}}, "none"),  # not an answer
    ],
)
def test_the_path_label_is_what_the_answer_says(
    endpoint: str, status: int, body: object, path: str
) -> None:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    assert answer_path(endpoint, response) == path


def test_a_streamed_answer_is_never_read_for_its_path() -> None:
    read: list[str] = []

    def chunks() -> object:
        read.append("chunk")
        yield b'{"x_routing": {"path": "intelligent"}}'

    response = Response(chunks(), mimetype="application/json")  # type: ignore[arg-type]
    assert answer_path("openai_compat.chat_completions", response) == "none"
    assert read == []  # the stream is left for the client


def test_app_counts_requests_by_route_status_and_path_and_serves_them() -> None:
    campaign = _unique("campaign")
    routed, parts = _app()
    parts.publisher.on_publish = lambda query: parts.waiter.dispatch(
        query.query_id.encode(), answered(query).to_bytes()
    )
    direct, _ = _app(routing=RoutingSettings(enabled=False))
    route = f"{API}/analyze"
    hist = "strategist_http_request_duration_seconds_count"
    before = {
        path: _value(hist, route=route, method="POST", path=path)
        for path in ("intelligent", "direct")
    }
    ok_before = _value("strategist_http_requests_total", route=route, method="POST",
                       status="200")
    refused_before = _value("strategist_http_requests_total", route=route, method="POST",
                            status="401")

    body = {"query": "latest polls in Arizona", "campaign_id": campaign}
    assert admin_client(routed).post(route, json=body).status_code == 200
    assert admin_client(direct).post(route, json=body).status_code == 200
    assert routed.test_client().post(route, json=body).status_code == 401  # no key
    assert routed.test_client().get("/no/such/page").status_code == 404

    assert _value(hist, route=route, method="POST", path="intelligent") == (
        before["intelligent"] + 1
    )
    assert _value(hist, route=route, method="POST", path="direct") == before["direct"] + 1
    ok = _value("strategist_http_requests_total", route=route, method="POST", status="200")
    assert ok == ok_before + 2
    refused = _value("strategist_http_requests_total", route=route, method="POST",
                     status="401")
    assert refused == refused_before + 1
    assert _value("strategist_http_requests_total", route="unmatched", method="GET",
                  status="404") >= 1
    assert _value("strategist_http_requests_in_flight", route=route) == 0  # all finished

    scraped = routed.test_client().get("/metrics")
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain")
    text = scraped.get_data(as_text=True)
    assert 'strategist_http_requests_total{method="POST",route="/api/v1/strategist/' in text
    assert "/no/such/page" not in text  # raw paths never become labels
    assert 'route="/metrics"' not in text  # scrapes are not counted as traffic


# --- gunicorn's multiprocess set-up -----------------------------------------------------


def test_gunicorn_conf_clears_stale_counts_and_marks_dead_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(ROOT / "strategist" / "gunicorn_conf.py"))
    stale = tmp_path / "counter_123.db"
    live = tmp_path / "gauge_livesum_456.db"
    keep = tmp_path / "notes.txt"
    for path in (stale, live, keep):
        path.write_bytes(b"")

    conf["on_starting"](None)
    assert not stale.exists() and not live.exists() and keep.exists()

    live.write_bytes(b"")

    class Worker:
        pid = 456

    conf["child_exit"](None, Worker())
    assert not live.exists()  # a dead worker's in-flight gauge no longer counts
    conf["on_exit"](None)
    assert tmp_path.exists()  # a directory it was given is never removed


def test_gunicorn_conf_makes_and_removes_its_own_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # so the teardown restores it
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    conf = runpy.run_path(str(ROOT / "strategist" / "gunicorn_conf.py"))
    made = Path(conf["multiproc_dir"])
    try:
        assert made.is_dir() and os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(made)
    finally:
        conf["on_exit"](None)
    assert not made.exists()


# --- docker compose: Prometheus scrapes every process ------------------------------------


def test_compose_prometheus_scrapes_the_app_and_every_service_where_they_serve() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    config_path = ROOT / "infra" / "prometheus" / "prometheus.yml"
    scrape = yaml.safe_load(config_path.read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    services = compose["services"]
    for name in ("classifier", "dispatcher", "scorer", "health", "recorder"):
        env = services[name]["environment"]
        assert env["METRICS_HOST"] == "0.0.0.0"  # reachable from the prometheus container
        assert f"{name}:{env['METRICS_PORT']}" in targets
    assert "app:8000" in targets
    app_command = services["app"]["command"]
    assert app_command[app_command.index("--config") + 1] == "strategist/gunicorn_conf.py"
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    mounted = [v.split(":")[0] for v in prometheus["volumes"]]
    assert "./infra/prometheus/prometheus.yml" in mounted
