"""The API's status codes and bodies over AnalysisService, on fakes for Kafka and Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from confluent_kafka import KafkaException

from schemas.base import utc_now
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from tests.unit.strategist.conftest import FakedApp
from tests.unit.strategist.fakes import FakeDirect, answered, unreachable

API = "/api/v1/strategist"
Faked = Callable[..., FakedApp]


def _scorer_answers(parts, *, delay_s: float = 0.05, failed: bool = False):  # type: ignore[no-untyped-def]
    """Simulate the pipeline: store in Redis, then publish to the waiter (as the scorer does)."""

    def on_publish(query: QueryRequested) -> None:
        def later() -> None:
            response = answered(query, failed=failed)
            parts.store.save(response)
            parts.waiter.dispatch(query.query_id.encode(), response.to_bytes())

        threading.Timer(delay_s, later).start()

    return on_publish


def test_analyze_returns_the_routed_answer(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = _scorer_answers(parts)
    response = client.post(
        f"{API}/analyze", json={"query": "latest polls in Arizona", "campaign_id": "az"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "completed"
    assert body["routing"]["path"] == "intelligent"
    assert body["routing"]["provider"] == "perplexity"
    assert 0 <= body["confidence"]["score"] <= 1
    assert {"analysis_id", "analysis_type", "result", "created_at"} <= set(body)
    [published] = parts.publisher.published
    assert published.query_id == body["analysis_id"]
    assert published.campaign_id == "az"
    assert parts.waiter.started
    assert parts.direct.calls == []


def test_the_response_is_found_in_redis_when_it_beat_the_consumer(faked: Faked) -> None:
    client, parts = faked()

    def instantly_in_redis(query: QueryRequested) -> None:  # before the waiter could see it
        parts.store.save(answered(query))

    parts.publisher.on_publish = instantly_in_redis
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 200


def test_redis_is_polled_while_the_consumer_is_not_positioned(faked: Faked) -> None:
    client, parts = faked()
    parts.waiter.is_ready.clear()

    def stored_later(query: QueryRequested) -> None:
        threading.Timer(0.3, lambda: parts.store.save(answered(query))).start()

    parts.publisher.on_publish = stored_later
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 200


def test_no_provider_answered_is_502_with_the_same_shape(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = _scorer_answers(parts, failed=True)
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 502
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["error"]
    assert body["result"] is None
    assert body["routing"]["failed_attempts"]


def test_deadline_passed_is_202_with_a_status_url(faked: Faked) -> None:
    client, parts = faked(sync_timeout_s=0.2)
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["status_url"] == f"{API}/analyses/{body['analysis_id']}"
    assert response.headers["Location"] == body["status_url"]
    # Still pending for the poller, then done once the scorer stores the answer.
    assert client.get(body["status_url"]).status_code == 202
    [query] = parts.publisher.published
    parts.store.save(answered(query))
    done = client.get(body["status_url"])
    assert done.status_code == 200
    assert done.get_json()["analysis_id"] == body["analysis_id"]


def test_kafka_unreachable_falls_back_to_the_direct_path(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = unreachable
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["routing"]["path"] == "direct"
    [(_query, reason)] = parts.direct.calls
    assert reason.startswith("Emergency fallback") and "Message timed out" in reason
    assert body["analysis_id"] in parts.store.results


def test_flag_off_answers_directly_without_publishing(faked: Faked) -> None:
    from strategist.settings import RoutingSettings

    client, parts = faked(routing=RoutingSettings(enabled=False))
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 200
    assert response.get_json()["routing"]["path"] == "direct"
    assert parts.publisher.published == []
    assert not parts.waiter.started
    assert "switched off" in parts.direct.calls[0][1]


def test_direct_path_failure_is_502(faked: Faked) -> None:
    from strategist.settings import RoutingSettings

    client, parts = faked(routing=RoutingSettings(rollout_percent=0))
    parts.direct = FakeDirect(failed=True)
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 502
    assert response.get_json()["status"] == "failed"


def test_redis_down_does_not_stop_a_sync_answer(faked: Faked) -> None:
    client, parts = faked()
    parts.store.down = True

    def consumer_only(query: QueryRequested) -> None:
        response = answered(query)
        threading.Timer(
            0.05, lambda: parts.waiter.dispatch(query.query_id.encode(), response.to_bytes())
        ).start()

    parts.publisher.on_publish = consumer_only
    assert client.post(f"{API}/analyze", json={"query": "q"}).status_code == 200


def test_submit_is_202_and_marks_pending(faked: Faked) -> None:
    client, parts = faked()
    response = client.post(f"{API}/analyses", json={"query": "q"})
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["analysis_id"] in parts.store.pending_markers
    assert [q.query_id for q in parts.publisher.published] == [body["analysis_id"]]


def test_submit_with_routing_off_runs_the_direct_path_in_the_background(faked: Faked) -> None:
    from strategist.settings import RoutingSettings

    client, parts = faked(routing=RoutingSettings(enabled=False))
    body = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    done = client.get(body["status_url"])  # the inline executor already finished it
    assert done.status_code == 200
    assert done.get_json()["routing"]["path"] == "direct"
    assert parts.publisher.published == []


def test_submit_with_kafka_down_falls_back_in_the_background(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = unreachable
    body = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    done = client.get(body["status_url"])
    assert done.status_code == 200
    assert "Emergency fallback" in parts.direct.calls[0][1]


def test_submit_without_redis_is_503(faked: Faked) -> None:
    client, parts = faked()
    parts.store.down = True
    response = client.post(f"{API}/analyses", json={"query": "q"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "store_unavailable"
    assert parts.publisher.published == []


def test_get_unknown_id_is_404_and_redis_down_is_503(faked: Faked) -> None:
    client, parts = faked()
    response = client.get(f"{API}/analyses/0123456789abcdef")
    assert response.status_code == 404
    assert response.get_json()["error"]["field"] == "analysis_id"
    parts.store.down = True
    assert client.get(f"{API}/analyses/0123456789abcdef").status_code == 503


def test_get_failed_analysis_is_200_with_status_failed(faked: Faked) -> None:
    client, parts = faked()
    query = QueryRequested(query_id="failedone", query="q")
    parts.store.save(answered(query, failed=True))
    response = client.get(f"{API}/analyses/failedone")
    assert response.status_code == 200
    assert response.get_json()["status"] == "failed"


def test_providers_view(faked: Faked) -> None:
    client, parts = faked()
    parts.store.statuses["gemini"] = ProviderStatus(
        provider="gemini",
        state="down",
        reason="2 probes failed",
        error_rate=1.0,
        last_error="HTTP 503",
    )
    parts.store.statuses["perplexity"] = ProviderStatus(
        provider="perplexity",
        state="healthy",
        reason="ok",
        error_rate=0.0,
        occurred_at=utc_now() - timedelta(minutes=5),
    )
    response = client.get(f"{API}/providers")
    assert response.status_code == 200
    by_name = {p["provider"]: p for p in response.get_json()["providers"]}
    assert by_name["gemini"]["state"] == "down"
    assert by_name["gemini"]["last_error"] == "HTTP 503"
    assert by_name["gemini"]["stale"] is False
    assert by_name["perplexity"]["stale"] is True
    assert by_name["local"]["state"] == "unknown"
    assert by_name["gemini"]["emulated"] is True and by_name["local"]["emulated"] is False
    assert {m["model"] for m in by_name["gemini"]["models"]} == {
        "gemini-2.5-pro",
        "gemini-2.5-flash",
    }
    assert by_name["local"]["models"][0]["input_per_million_usd"] == 0.0


def test_providers_view_without_redis_still_lists_the_catalogue(faked: Faked) -> None:
    client, parts = faked()
    parts.store.down = True
    body = client.get(f"{API}/providers").get_json()
    assert {p["state"] for p in body["providers"]} == {"unknown"}
    assert "unreachable" in body["status_error"]


def test_readyz_names_the_failed_dependency(faked: Faked) -> None:
    client, parts = faked()
    assert client.get("/readyz").status_code == 200
    parts.kafka.error = KafkaException("Local: Broker transport failure")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["kafka"]
    assert "transport failure" in body["checks"]["kafka"]["error"]
    parts.store.down = True
    assert client.get("/readyz").get_json()["failed"] == ["kafka", "redis"]
