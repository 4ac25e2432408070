"""The app's view of Redis: results by id, pending markers, provider statuses.

The scorer writes `result:<id>` (TTL) before it publishes; the app writes
`pending:<id>` (TTL) when it accepts a query and `result:<id>` for answers from
the direct path. Redis errors surface as `StoreUnavailable`, so callers decide
whether a missing Redis is fatal (GET by id) or merely degrades (POST /analyze).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from typing import Any

import redis
from pydantic import ValidationError

from schemas.base import utc_now
from schemas.health import ProviderStatus
from schemas.response import AnalysisResponded
from services.common.redis_client import sync_redis
from services.common.redis_keys import RedisKeys
from services.common.results import result_write_args

logger = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 2.0
DEFAULT_CONCURRENCY = 16
"""Request threads plus background workers of one process (gunicorn 8 + 8)."""


class StoreUnavailable(Exception):
    """Redis could not be reached or answered with an error."""


class ResultStore:
    """Synchronous Redis access for request threads; connects on first use."""

    def __init__(
        self,
        *,
        url: str,
        keys: RedisKeys,
        ttl_s: int,
        socket_timeout_s: float = SOCKET_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._url = url
        self._concurrency = concurrency
        self._keys = keys
        self._ttl_s = ttl_s
        self._timeout_s = socket_timeout_s
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                # redis-py's pool notices a fork and reconnects in the child by itself;
                # dead connections left by a Redis restart are retried, not failed.
                self._client = sync_redis(
                    self._url, concurrency=self._concurrency, socket_timeout_s=self._timeout_s
                )
            return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as err:
            raise StoreUnavailable(f"redis {what}: {type(err).__name__}: {err}") from err

    def ping(self) -> None:
        self._call("PING", self.client.ping)

    def result(self, analysis_id: str) -> AnalysisResponded | None:
        raw = self._call("GET", self.client.get, self._keys.result(analysis_id))
        if raw is None:
            return None
        try:
            return AnalysisResponded.from_bytes(raw)
        except ValidationError:
            logger.warning("unreadable stored result for analysis=%s", analysis_id)
            return None

    def pending(self, analysis_id: str) -> dict[str, Any] | None:
        raw = self._call("GET", self.client.get, self._keys.pending(analysis_id))
        if raw is None:
            return None
        try:
            marker = json.loads(raw)
        except ValueError:
            marker = None
        return marker if isinstance(marker, dict) else {"analysis_id": analysis_id}

    def mark_pending(self, analysis_id: str, *, path: str, campaign_id: str | None) -> None:
        marker = {
            "analysis_id": analysis_id,
            "status": "pending",
            "path": path,
            "campaign_id": campaign_id,
            "accepted_at": utc_now().isoformat(),
        }
        self._call(
            "SET",
            self.client.set,
            self._keys.pending(analysis_id),
            json.dumps(marker),
            ex=self._ttl_s,
        )

    def clear_pending(self, analysis_id: str) -> None:
        self._call("DEL", self.client.delete, self._keys.pending(analysis_id))

    def save(self, response: AnalysisResponded) -> bool:
        """Store a finished analysis (TTL) and drop its pending marker, atomically.

        First answer wins (see `services.common.results`): False when an earlier
        answer for this id stays stored.
        """
        stored = self._call(
            "EVAL", self.client.eval, *result_write_args(self._keys, response, self._ttl_s)
        )
        return bool(stored)

    def provider_statuses(self) -> dict[str, ProviderStatus]:
        """Latest status per provider from the health service's hash; unreadable ones skipped."""
        raw = self._call("HGETALL", self.client.hgetall, self._keys.provider_status())
        statuses: dict[str, ProviderStatus] = {}
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            try:
                statuses[name] = ProviderStatus.from_bytes(value)
            except ValidationError:
                logger.warning("unreadable provider status for %s", name)
        return statuses


def age_s(moment: datetime) -> float:
    return max((utc_now() - moment).total_seconds(), 0.0)
