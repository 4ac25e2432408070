"""The answer a caller got stays the answer: a later pipeline answer does not replace it.

The app answers from the direct path when the broker did not acknowledge the query in
time, but the query may still be delivered and answered by the pipeline later; the
scorer's result write must then leave the direct answer in place. Real Redis, the real
scorer store, the app in-process with a dead broker address and the provider emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from pydantic import SecretStr

from harness.emulator_process import EmulatorControl
from harness.processes import free_port, unique_namespace
from providers.settings import ProviderSettings
from schemas.query import QueryRequested
from services.common.redis_client import async_redis
from services.common.redis_keys import RedisKeys
from services.common.settings import InfraSettings
from services.scorer.stores import RedisResultStore
from strategist import create_app
from strategist.settings import StrategistSettings
from tests.support.keys import test_key
from tests.unit.strategist.fakes import answered

pytestmark = pytest.mark.e2e

API = "/api/v1/strategist"
TTL_S = 600


@pytest.fixture
def app(
    redis_url: str, database_url: str, emulator: EmulatorControl
) -> Iterator[tuple[FlaskClient, RedisKeys]]:
    namespace = unique_namespace("first-answer")
    settings = StrategistSettings(
        infra=InfraSettings(
            kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # nothing listens
            redis_url=redis_url,
            topic_namespace=namespace,
            result_ttl_s=TTL_S,
            database_url=SecretStr(database_url),
        ),
        providers=ProviderSettings(
            gemini_api_key=None, perplexity_api_key=None, emulator_url=emulator.base_url
        ),
        kafka_delivery_timeout_s=1.0,
    )
    flask_app = create_app(settings)
    client = flask_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = test_key(database_url).header["Authorization"]
    try:
        yield client, RedisKeys(namespace)
    finally:
        flask_app.extensions["strategist"].close()


def _scorer_writes(redis_url: str, keys: RedisKeys, response: object) -> bool:
    async def write() -> bool:
        client = async_redis(redis_url, concurrency=1)
        try:
            store = RedisResultStore(redis=client, keys=keys, ttl_s=TTL_S)
            return await store.save(response)  # type: ignore[arg-type]
        finally:
            await client.aclose()

    return asyncio.run(write())


def test_a_later_pipeline_answer_does_not_replace_the_direct_answer(
    app: tuple[FlaskClient, RedisKeys], redis_url: str
) -> None:
    client, keys = app
    first = client.post(f"{API}/analyze", json={"query": "latest polls in Arizona"})
    assert first.status_code == 200, first.get_data(as_text=True)
    direct = first.get_json()
    assert direct["routing"]["path"] == "direct"
    assert "Emergency fallback" in direct["routing"]["explanation"]

    query = QueryRequested(query_id=direct["analysis_id"], query="latest polls in Arizona")
    late = answered(query, provider="perplexity", path="intelligent")
    assert _scorer_writes(redis_url, keys, late) is False

    again = client.get(f"{API}/analyses/{direct['analysis_id']}")
    assert again.status_code == 200
    assert {k: v for k, v in again.get_json().items() if k != "feedback"} == direct


def test_a_completed_answer_replaces_a_stored_failure(
    app: tuple[FlaskClient, RedisKeys], redis_url: str
) -> None:
    client, keys = app
    query = QueryRequested(query_id="0" * 31 + "1", query="q")
    assert _scorer_writes(redis_url, keys, answered(query, failed=True)) is True
    assert client.get(f"{API}/analyses/{query.query_id}").get_json()["status"] == "failed"
    assert _scorer_writes(redis_url, keys, answered(query)) is True
    assert client.get(f"{API}/analyses/{query.query_id}").get_json()["status"] == "completed"
