"""Ending a query that a pipeline stage had to dead-letter.

A query dead-lettered anywhere (undecodable, a catalogue mismatch, a bug) would
otherwise stay "pending" for its caller until the marker's TTL. The worker hands
the raw message to `SetAsideAnswers`, which recovers what it can of the query
and publishes a failed response on the responses topic and in the result store,
so the caller gets a final answer at once (first answer wins: it never replaces
an answer that already exists).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from core.response import set_aside_response
from schemas.query import QueryRequested
from services.common.producer import EventProducer
from services.common.redis_keys import RedisKeys
from services.common.results import result_write_args

logger = logging.getLogger(__name__)

MAX_ANALYSIS_ID_CHARS = 64
EVENT_ID_NAMESPACE = uuid.UUID("6f1d7c1e-2b1a-4c55-9d43-0d7a1f0e5a11")


def recover_query(key: bytes | None, value: bytes) -> tuple[str | None, QueryRequested | None]:
    """(analysis id, the query when readable) from a raw pipeline message.

    Pipeline topics are keyed by the query id and carry the query at the top level
    (queries) or under "query" (classified, completions). An escalated query travels
    under a derived id; its answer belongs to the analysis the caller waits on.
    """
    body: Any = None
    with contextlib.suppress(ValueError, RecursionError):
        body = json.loads(value)
    candidates = [body.get("query"), body] if isinstance(body, dict) else []
    for candidate in candidates:
        if isinstance(candidate, dict) and "query_id" in candidate:
            try:
                query = QueryRequested.model_validate(candidate)
            except ValidationError:
                continue
            return query.analysis_id, query
    analysis_id = key.decode("utf-8", "replace") if key else None
    if analysis_id is not None and not 0 < len(analysis_id) <= MAX_ANALYSIS_ID_CHARS:
        analysis_id = None
    return analysis_id, None


class SetAsideAnswers:
    """Publishes the failed answer for a dead-lettered pipeline message."""

    def __init__(
        self,
        *,
        producer: EventProducer,
        redis: Redis,
        keys: RedisKeys,
        responses_topic: str,
        ttl_s: int,
    ) -> None:
        self._producer = producer
        self._redis = redis
        self._keys = keys
        self._topic = responses_topic
        self._ttl_s = ttl_s

    async def publish(
        self, *, stage: str, where: str, key: bytes | None, value: bytes, error: BaseException
    ) -> None:
        """Raises (Redis or Kafka errors) so the worker retries; no-op without an id."""
        analysis_id, query = recover_query(key, value)
        if analysis_id is None:
            logger.warning("%s: dead letter %s names no analysis; nobody to answer", stage, where)
            return
        response = set_aside_response(
            analysis_id=analysis_id, stage=stage, reason=type(error).__name__, query=query
        ).model_copy(update={"event_id": uuid.uuid5(EVENT_ID_NAMESPACE, where).hex})
        await self._redis.eval(*result_write_args(self._keys, response, self._ttl_s))
        await self._producer.send_async(self._topic, analysis_id, response)
        logger.info("analysis=%s answered as failed (set aside by the %s)", analysis_id, stage)
