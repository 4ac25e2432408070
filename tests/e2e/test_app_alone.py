"""The app on its own in a fresh namespace: it creates the topics it needs and accepts work.

No service runs, so an accepted analysis stays pending; what matters here is that the
first request of a brand-new deployment is published (the broker does not auto-create
topics) rather than falling back to the direct path.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.kafka import TopicReader
from harness.processes import free_port, infra_env, unique_namespace
from schemas.query import QueryRequested
from schemas.topics import TopicNames
from tests.e2e.stack import API, APP_READY_TIMEOUT_S, gunicorn
from tests.support.keys import test_key

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(
    kafka_bootstrap: str, redis_url: str, database_url: str
) -> Iterator[tuple[httpx.Client, TopicNames]]:
    namespace = unique_namespace("e2e-alone")
    port = free_port()
    env = infra_env(
        namespace,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        EMULATOR_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens: no provider calls
    )
    process = gunicorn("app-alone", env, port).start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        process.wait_until(
            lambda: httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200,
            APP_READY_TIMEOUT_S,
            "/healthz",
        )
        key = test_key(database_url)
        with httpx.Client(base_url=base_url, timeout=30, headers=key.header) as client:
            yield client, TopicNames(namespace)
    finally:
        process.stop()


def test_first_request_in_a_fresh_namespace_is_published(
    app: tuple[httpx.Client, TopicNames], kafka_bootstrap: str
) -> None:
    client, topics = app
    response = client.post(f"{API}/analyses", json={"query": "latest polls in Arizona"})
    assert response.status_code == 202, response.text
    analysis_id = response.json()["analysis_id"]

    reader = TopicReader(kafka_bootstrap, topics.queries, QueryRequested)
    try:
        events = reader.poll_until(
            lambda seen: any(e.query_id == analysis_id for e in seen), timeout_s=20
        )
    finally:
        reader.close()
    assert [e.query_id for e in events] == [analysis_id]

    pending = client.get(response.json()["status_url"])
    assert pending.status_code == 202
    assert pending.json()["status"] == "pending"
    assert client.get("/readyz").status_code == 200
