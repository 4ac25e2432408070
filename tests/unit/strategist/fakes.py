"""Test doubles for the app's I/O edges: publisher, store, direct path (no network)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import timedelta
from typing import Any, Literal

from core.response import build_response
from schemas.base import ProviderName, utc_now
from schemas.health import ProviderStatus
from schemas.parts import (
    Answer,
    AttemptSummary,
    Classification,
    Confidence,
    ConfidenceComponent,
    RouteStep,
)
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.analysis.archive import ArchiveUnavailable
from strategist.analysis.pipeline import PipelineUnavailable
from strategist.analysis.store import StoreUnavailable
from strategist.analysis.waiter import ResponseWaiter
from strategist.auth.keyring import KeyLookup
from strategist.auth.keys import KeyRecord, KeyStoreUnavailable, Role, key_hash, new_key
from strategist.streams.hub import DeltaHub


def answered(
    query: QueryRequested,
    *,
    provider: ProviderName = "perplexity",
    path: Literal["intelligent", "direct"] = "intelligent",
    failed: bool = False,
) -> AnalysisResponded:
    """A response as the scorer (or the direct path) would build it."""
    model = {"perplexity": "sonar", "gemini": "gemini-2.5-pro", "local": "local-gguf"}[provider]
    answer = (
        None
        if failed
        else Answer(
            provider=provider,
            model=model,
            text=f"answer to {query.query}",
            input_tokens=10,
            output_tokens=20,
            cost_usd=0.001,
            latency_ms=12.0,
        )
    )
    attempt = AttemptSummary(
        provider=provider,
        model=model,
        outcome="error" if failed else "success",
        error_kind="unavailable" if failed else None,
        latency_ms=12.0,
        cost_usd=0.0 if failed else 0.001,
    )
    return build_response(
        query=query,
        path=path,
        classification=None
        if path == "direct"
        else Classification(
            complexity=0.2, needs_live_data=True, analysis_type="polling", cost_sensitive=False
        ),
        route=[]
        if path == "direct"
        else [RouteStep(provider=provider, model=model, reason="test")],
        attempts=[attempt],
        answer=answer,
        confidence=None
        if failed
        else Confidence(
            score=0.7,
            components={"route_fit": ConfidenceComponent(value=0.7, weight=1.0, detail="t")},
        ),
        error="every provider failed" if failed else None,
    )


class FakePublisher:
    """Records queries; `on_publish(query)` simulates the pipeline (or raises)."""

    def __init__(self, on_publish: Callable[[QueryRequested], object] | None = None) -> None:
        self.published: list[QueryRequested] = []
        self.on_publish = on_publish

    def publish(self, query: QueryRequested) -> None:
        if self.on_publish is not None:
            self.on_publish(query)
        self.published.append(query)


def unreachable(_query: QueryRequested) -> None:
    raise PipelineUnavailable("queries: Local: Message timed out")


class ReadyWaiter(ResponseWaiter):
    """The real slot table and `wait`, with no follower thread: `ready` is set by hand and
    records are handed in with `dispatch`."""

    def __init__(self, store: FakeStore, *, ready: bool = True) -> None:
        super().__init__(store=store, consumer_config={}, topic="responses")
        self.started = False
        self.is_ready = threading.Event()
        if ready:
            self.is_ready.set()

    def start(self) -> None:
        self.started = True

    def wait_ready(self, timeout_s: float) -> bool:
        return self.is_ready.wait(timeout_s)

    @property
    def ready(self) -> bool:
        return self.is_ready.is_set()

    @property
    def failing(self) -> bool:
        return False


class FakeStore:
    def __init__(self) -> None:
        self.results: dict[str, AnalysisResponded] = {}
        self.pending_markers: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, ProviderStatus] = {}
        self.down = False
        self.lock = threading.Lock()

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("redis GET: ConnectionError: refused")

    def ping(self) -> None:
        self._check()

    def result(self, analysis_id: str) -> AnalysisResponded | None:
        self._check()
        return self.results.get(analysis_id)

    def pending(self, analysis_id: str) -> dict[str, Any] | None:
        self._check()
        return self.pending_markers.get(analysis_id)

    def mark_pending(self, analysis_id: str, *, path: str, campaign_id: str | None) -> None:
        self._check()
        self.pending_markers[analysis_id] = {
            "analysis_id": analysis_id,
            "path": path,
            "campaign_id": campaign_id,
        }

    def save(self, response: AnalysisResponded) -> bool:
        """First answer wins, as in services.common.results (a completed one replaces a
        failed one)."""
        self._check()
        with self.lock:
            self.pending_markers.pop(response.analysis_id, None)
            current = self.results.get(response.analysis_id)
            if current is not None and not (
                current.status == "failed" and response.status == "completed"
            ):
                return False
            self.results[response.analysis_id] = response
            return True

    def provider_statuses(self) -> dict[str, ProviderStatus]:
        self._check()
        return dict(self.statuses)


class FakeArchive:
    """The responses topic as the API's fallback sees it: answers by id."""

    def __init__(self) -> None:
        self.answers: dict[str, AnalysisResponded] = {}
        self.queries: set[str] = set()
        self.lookups: list[str] = []
        self.down = False

    def find(self, analysis_id: str) -> AnalysisResponded | None:
        self.lookups.append(analysis_id)
        if self.down:
            raise ArchiveUnavailable("responses topic unreadable: broker down")
        return self.answers.get(analysis_id)

    def accepted(self, analysis_id: str) -> QueryRequested | None:
        if self.down:
            raise ArchiveUnavailable("queries topic unreadable: broker down")
        if analysis_id not in self.queries:
            return None
        return QueryRequested(query_id=analysis_id, query="(on the queries topic)")


class FakeRecorder:
    """Collects the direct answers the app would put on the responses topic."""

    def __init__(self) -> None:
        self.recorded: list[AnalysisResponded] = []

    def record(self, response: AnalysisResponded) -> None:
        self.recorded.append(response)


class FakeDirect:
    def __init__(self, *, failed: bool = False) -> None:
        self.calls: list[tuple[QueryRequested, str]] = []
        self.failed = failed

    def analyze(self, query: QueryRequested, *, reason: str) -> AnalysisResponded:
        self.calls.append((query, reason))
        return answered(query, provider="gemini", path="direct", failed=self.failed)


class InlineExecutor(Executor):
    """Runs submitted work at once, so tests see its effect without sleeping."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:
            future.set_exception(err)
        return future


class FakeKafkaProbe:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def check(self, timeout_s: float) -> None:
        if self.error is not None:
            raise self.error


class MemoryKeyring(KeyLookup):
    """API keys in a dict: `add` returns the key; `records` can be revoked in place."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.used_ids: list[str] = []
        self.down = False

    def add(
        self,
        campaign_id: str,
        *,
        role: Role = "strategist",
        rate_per_minute: int | None = None,
        key_id: str | None = None,
    ) -> str:
        key = new_key()
        self.records[key] = KeyRecord(
            key_id=key_id or f"key_{len(self.records)}",
            campaign_id=campaign_id,
            role=role,
            rate_per_minute=rate_per_minute,
            created_at=utc_now(),
            expires_at=None,
            revoked_at=None,
            last_used_at=None,
        )
        return key

    def revoke(self, key: str) -> None:
        self.records[key] = dataclasses.replace(self.records[key], revoked_at=utc_now())

    def expire(self, key: str) -> None:
        self.records[key] = dataclasses.replace(
            self.records[key], expires_at=utc_now() - timedelta(seconds=1)
        )

    def lookup(self, key: str) -> KeyRecord | None:
        if self.down:
            raise KeyStoreUnavailable("lookup: OperationalError")
        return self.records.get(key)

    def lookup_hash(self, hashed: str) -> KeyRecord | None:
        if self.down:
            raise KeyStoreUnavailable("lookup: OperationalError")
        return next((r for k, r in self.records.items() if key_hash(k) == hashed), None)

    def used(self, record: KeyRecord) -> None:
        self.used_ids.append(record.key_id)


class FakeLimiter:
    """Allows everything unless `wait_s` is set for a key id (then answers that)."""

    def __init__(self) -> None:
        self.wait_s: dict[str, int] = {}
        self.taken: list[tuple[str, int]] = []

    def take(self, key_id: str, rate_per_minute: int) -> int | None:
        self.taken.append((key_id, rate_per_minute))
        return self.wait_s.get(key_id)


class OfflineDeltaHub(DeltaHub):
    """The real recent-deltas table and subscriptions, with no follower thread: deltas are
    handed in with `add`, and it covers every analysis."""

    def __init__(self) -> None:
        super().__init__(consumer_config={}, topic="answer-deltas")

    def start(self) -> None:
        return None

    def wait_ready(self, timeout_s: float) -> bool:
        return True

    def covers(self, analysis_id: str) -> bool:
        return True
