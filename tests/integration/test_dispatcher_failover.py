"""Failover fault by fault: the dispatcher process, the real broker and Redis, the emulator.

Each test injects one fault through the emulator's control API and reads what the
dispatcher published: the completion (who answered, with what) and the attempt events.
The catalogue is the built-in one with short limits (CATALOGUE_PATH), as a deployment
would tune them; the emulator answers in milliseconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port
from providers.catalogue import DEFAULT_CATALOGUE, Catalogue
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.dispatcher.attempts import CANCELLED_KIND

COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
LIVE = "latest polls in Arizona this week"
FIRST_TOKEN_S = 1.5
"""The test catalogue's first-token limit for every hosted model."""
COOLDOWN_S = 1.0
"""The test catalogue's open interval of a model's circuit."""
HANG_GUARD_S = 60.0
FAILOVER_MS = 5000
"""The user story: a failing provider is left within 5 s."""


def _catalogue(path: Path, **changes: Any) -> str:
    """The built-in catalogue with short hosted limits (and `changes` for every hosted model)."""
    hosted = {"first_token_timeout_s": FIRST_TOKEN_S, "cooldown_s": COOLDOWN_S, **changes}
    catalogue = Catalogue(
        models=[
            spec.model_copy(update=hosted) if spec.provider != "local" else spec
            for spec in DEFAULT_CATALOGUE.models
        ]
    )
    path.write_text(json.dumps(catalogue.model_dump(mode="json")))
    return str(path)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


def _set(emulator: EmulatorControl, provider: str, mode: str, **options: Any) -> None:
    httpx.put(
        f"{emulator.base_url}/_control/providers/{provider}",
        json={"mode": mode, **options},
        timeout=5,
    ).raise_for_status()


def _requests(emulator: EmulatorControl, provider: str) -> int:
    """Completion requests the provider received (probes excluded)."""
    by_endpoint = emulator.state()[provider]["by_endpoint"]
    return sum(n for endpoint, n in by_endpoint.items() if endpoint != "probe")


def _heal_after(emulator: EmulatorControl, provider: str, calls: int) -> threading.Thread:
    """Switch `provider` back to ok once it has received `calls` completion requests."""

    def heal() -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while _requests(emulator, provider) < calls and time.monotonic() < deadline:
            time.sleep(0.02)
        _set(emulator, provider, "ok")

    thread = threading.Thread(target=heal, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def dispatcher(emulator, start_service, tmp_path) -> Callable[..., None]:
    emulator.reset()

    def start(**changes: Any) -> None:
        start_service(
            "dispatcher",
            EMULATOR_URL=emulator.base_url,
            LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",  # the local model is down
            CATALOGUE_PATH=_catalogue(tmp_path / "catalogue.json", **changes),
        )

    return start


def _send(producer, topics, query_id: str, text: str = COMPLEX) -> None:
    classified: QueryClassified = classify(QueryRequested(query_id=query_id, query=text))
    producer.send_and_wait(topics.classified, query_id, classified, 10)


def _completion(kafka_bootstrap, topics, query_id: str) -> CompletionProduced:
    reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    try:
        events = reader.poll_until(
            lambda found: any(e.query.query_id == query_id for e in found), HANG_GUARD_S
        )
    finally:
        reader.close()
    return next(e for e in events if e.query.query_id == query_id)


def _tried(completion: CompletionProduced) -> list[tuple[str, str, str | None]]:
    return [(a.model, a.outcome, a.error_kind) for a in completion.attempts]


def test_429_with_retry_after_is_waited_out_and_the_same_model_answers(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "rate_limit", retry_after_s=0.5)
    _heal_after(emulator, "gemini", 1)
    started = time.monotonic()
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    assert _tried(completion) == [
        ("gemini-2.5-pro", "error", "rate_limited"), ("gemini-2.5-pro", "success", None)
    ]
    assert completion.answer.model == "gemini-2.5-pro"
    assert time.monotonic() - started >= 0.5


def test_a_500_once_is_retried_and_the_same_model_answers(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "error_once")
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    assert _tried(completion) == [
        ("gemini-2.5-pro", "error", "server_error"), ("gemini-2.5-pro", "success", None)
    ]
    assert completion.answer.model == "gemini-2.5-pro"


def test_a_hang_goes_to_the_fallback_within_the_first_token_limit_and_is_called_once(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "hang")
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    hung = completion.attempts[0]
    assert (hung.model, hung.outcome, hung.error_kind) == (
        "gemini-2.5-pro", "timeout", "first_token_timeout"
    )
    assert hung.latency_ms < (FIRST_TOKEN_S + 1.0) * 1000
    assert completion.answer.model == "sonar-pro"
    assert _requests(emulator, "gemini") == 1
    _set(emulator, "gemini", "ok")  # release the held request


def test_a_cut_stream_goes_to_the_fallback_and_the_answer_is_complete(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "cut", after_chunks=2)
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    assert completion.attempts[0].error_kind == "stream_truncated"
    assert completion.status == "succeeded" and completion.answer.model == "sonar-pro"
    assert completion.answer.finish_reason == "stop" and completion.answer.output_tokens > 0


def test_context_too_long_goes_to_a_fallback_with_a_larger_window(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "perplexity", "context_too_long")
    _send(producer, topics, "q1", LIVE)
    completion = _completion(kafka_bootstrap, topics, "q1")
    refused = completion.attempts[0]
    assert (refused.provider, refused.error_kind) == ("perplexity", "context_too_long")
    assert _requests(emulator, "perplexity") == 1  # never resent unchanged
    assert completion.answer.provider == "gemini"  # a 1M-token window after Sonar's 128k/200k


def test_a_content_filter_refusal_is_returned_and_no_fallback_is_called(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "content_filter")
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    assert completion.status == "failed" and completion.answer is None
    assert completion.error.startswith("content_blocked:")
    assert [a.provider for a in completion.attempts] == ["gemini"]
    assert _requests(emulator, "perplexity") == 0


def test_after_an_outage_the_half_open_circuit_returns_traffic_within_seconds(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "down")
    during = []
    for i in range(4):  # during the outage: every query answered by the fallback
        _send(producer, topics, f"out{i}")
        during.append(_completion(kafka_bootstrap, topics, f"out{i}"))
    assert [c.answer.model for c in during] == ["sonar-pro"] * 4
    assert [a.error_kind for a in during[0].attempts[:2]] == ["server_error"] * 2
    # then the circuit is open: the next query skips the primary without calling it
    assert during[1].attempts[0].error_kind == "circuit_open"
    _set(emulator, "gemini", "ok")
    recovered = time.monotonic()
    answered_by: list[str] = []
    for i in range(20):
        _send(producer, topics, f"back{i}")
        answered_by.append(_completion(kafka_bootstrap, topics, f"back{i}").answer.model)
        if answered_by[-1] == "gemini-2.5-pro":
            break
        time.sleep(0.2)
    back_after_s = time.monotonic() - recovered
    assert answered_by[-1] == "gemini-2.5-pro", answered_by
    assert back_after_s < COOLDOWN_S + 4.0, f"traffic returned after {back_after_s:.1f} s"


def test_health_down_cancels_attempts_in_flight_and_their_fallbacks_answer_within_a_second(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    # long limits: only the health stream can help
    dispatcher(first_token_timeout_s=20.0, headers_timeout_s=20.0)
    _set(emulator, "gemini", "hang")
    for i in range(3):
        _send(producer, topics, f"q{i}")
    deadline = time.monotonic() + HANG_GUARD_S
    while emulator.state()["gemini"]["hanging"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    down = ProviderStatus(provider="gemini", state="down", reason="test: probes fail",
                          error_rate=1.0)
    producer.send_and_wait(topics.provider_health, "gemini", down, 10)
    marked_down = time.monotonic()
    reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    try:
        completions = reader.poll_until(lambda found: len(found) >= 3, HANG_GUARD_S)
    finally:
        reader.close()
    answered_after_s = time.monotonic() - marked_down
    assert answered_after_s < 2.0, f"answered {answered_after_s:.2f} s after 'down'"
    for completion in completions:
        assert completion.answer.model == "sonar-pro"
        cancelled = completion.attempts[0]
        assert (cancelled.provider, cancelled.outcome, cancelled.error_kind) == (
            "gemini", "timeout", CANCELLED_KIND
        )
    _set(emulator, "gemini", "ok")



def test_a_hang_with_the_health_service_running_fails_over_within_5s_on_a_cold_dispatcher(
    emulator, start_service, producer, topics, kafka_bootstrap, tmp_path
) -> None:
    """Slow is not failed, so a dispatcher that has not yet observed a model keeps the
    catalogue's long first-token ceiling; with no header limit either, the health stream
    is what catches a hang."""
    emulator.reset()
    no_header_limit = Catalogue(
        models=[spec.model_copy(update={"headers_timeout_s": None})
                for spec in DEFAULT_CATALOGUE.models]
    )
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(no_header_limit.model_dump(mode="json")))
    env = {"EMULATOR_URL": emulator.base_url,
           "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1"}
    start_service("health", **env)
    # the built-in limits (Pro may think for 45 s) without the header limit
    start_service("dispatcher", **env, CATALOGUE_PATH=str(catalogue))
    _send(producer, topics, "warm")
    assert _completion(kafka_bootstrap, topics, "warm").answer.model == "gemini-2.5-pro"
    _set(emulator, "gemini", "hang")
    sent = time.monotonic()
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    answered_s = time.monotonic() - sent
    hung = completion.attempts[0]
    assert (hung.provider, hung.error_kind) == ("gemini", CANCELLED_KIND)
    assert hung.latency_ms < FAILOVER_MS
    assert completion.answer.model == "sonar-pro"
    assert answered_s < FAILOVER_MS / 1000 + 1.0
    _set(emulator, "gemini", "ok")


def test_a_hang_fails_over_within_5s_on_a_cold_dispatcher_without_the_health_service(
    emulator, start_service, producer, topics, kafka_bootstrap
) -> None:
    """The built-in catalogue on a fresh process: no observed latency narrows Pro's 45 s
    first-token limit and no health stream marks Gemini down, yet a hung upstream (no
    response headers) is left at the header limit and the fallback answers within 5 s."""
    emulator.reset()
    start_service(
        "dispatcher",
        EMULATOR_URL=emulator.base_url,
        LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
    )
    _set(emulator, "gemini", "hang")
    _send(producer, topics, "q1")
    completion = _completion(kafka_bootstrap, topics, "q1")
    hung = completion.attempts[0]
    assert (hung.model, hung.outcome, hung.error_kind) == (
        "gemini-2.5-pro", "timeout", "first_token_timeout"
    )
    assert "no response headers" in (hung.error_message or "")
    assert completion.answer.model == "sonar-pro"
    failover_ms = hung.latency_ms + completion.answer.latency_ms
    assert failover_ms < FAILOVER_MS, f"answered {failover_ms:.0f} ms after the hung call began"
    assert _requests(emulator, "gemini") == 1  # the silent model is not called again
    _set(emulator, "gemini", "ok")
