"""Only a failed delivery means "Kafka is down"; anything else is a bug and a logged 500.

Before, any exception while publishing (a serialisation failure included) became
PipelineUnavailable: logged at ERROR as "Kafka unreachable" and answered by the
direct Gemini path, bypassing the rollout.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from schemas.query import QueryRequested
from services.common.kafka_security import KafkaSecurity
from services.common.producer import EventProducer, producer_config
from strategist.analysis.pipeline import PipelineUnavailable, QueryPublisher
from tests.unit.strategist.conftest import FakedApp

ANALYZE = "/api/v1/strategist/analyze"
Faked = Callable[..., FakedApp]


def test_an_unserialisable_query_is_not_pipeline_unavailable() -> None:
    # Nothing listens on port 1; serialisation fails before any connection is made.
    producer = EventProducer(
        config=producer_config("127.0.0.1:1", client_id="unit", security=KafkaSecurity())
    )
    publisher = QueryPublisher(producer=producer, topic="queries", delivery_timeout_s=0.5)
    # As a JSON value inside `context` got past validation before (pydantic checks plain
    # str fields, not JsonValue); built unvalidated here to stand for any such bug.
    query = QueryRequested.model_construct(query_id="q1", query="q", context={"a": "\udc00"})
    with pytest.raises(Exception) as raised:
        publisher.publish(query)
    assert not isinstance(raised.value, PipelineUnavailable)


def test_a_publish_bug_is_a_500_not_the_direct_path(faked: Faked) -> None:
    client, parts = faked()

    def broken(_query: QueryRequested) -> None:
        raise ValueError("cannot serialise")

    parts.publisher.on_publish = broken
    response = client.post(ANALYZE, json={"query": "q"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert parts.direct.calls == []
