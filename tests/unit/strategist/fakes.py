"""Test doubles for the app's I/O edges: publisher, store, direct path (no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from schemas.classified import Classification, RouteStep
from schemas.completion import Answer, AttemptSummary
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded, Confidence, ConfidenceComponent
from services.scorer.response import build_response
from strategist.pipeline import PipelineUnavailable
from strategist.store import StoreUnavailable
from strategist.waiter import ResponseWaiter


def answered(
    query: QueryRequested,
    *,
    provider: str = "perplexity",
    path: str = "intelligent",
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
        path=path,  # type: ignore[arg-type]
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

    def __init__(self, on_publish: Callable[[QueryRequested], None] | None = None) -> None:
        self.published: list[QueryRequested] = []
        self.on_publish = on_publish

    def publish(self, query: QueryRequested) -> None:
        if self.on_publish is not None:
            self.on_publish(query)
        self.published.append(query)


def unreachable(_query: QueryRequested) -> None:
    raise PipelineUnavailable("queries: Local: Message timed out")


class ReadyWaiter(ResponseWaiter):
    """The real slot table, with no consumer thread: `ready` is set by hand."""

    def __init__(self, *, ready: bool = True) -> None:
        super().__init__(consumer_config={}, topic="responses")
        self.started = False
        if ready:
            self._ready.set()

    def start(self) -> None:
        self.started = True


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
        self.pending_markers[analysis_id] = {"analysis_id": analysis_id, "path": path}

    def save(self, response: AnalysisResponded) -> None:
        self._check()
        self.results[response.analysis_id] = response
        self.pending_markers.pop(response.analysis_id, None)

    def provider_statuses(self) -> dict[str, ProviderStatus]:
        self._check()
        return dict(self.statuses)


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
