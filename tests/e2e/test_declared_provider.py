"""A provider that exists only in the catalogue answers through the whole pipeline.

The catalogue (`CATALOGUE_PATH`, YAML, read by the app and every service) declares an
OpenAI-compatible provider named "acme" whose key variable is unset, so its client talks
to the emulator's plain OpenAI-compatible API. The official `openai` SDK asks for its
model by id on `POST /v1/chat/completions`, with and without streaming: the query, the
attempt events, the completion and the response all carry the new provider name (a
closed set of names once made every one of them invalid), and the answer names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from openai import OpenAI

from harness.kafka import TopicReader
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH
from schemas.attempt import ProviderAttempt
from tests.e2e.stack import API, APP_SYNC_TIMEOUT_S, Stack, StackFactory

pytestmark = pytest.mark.e2e

PROVIDER = "acme"
MODEL = "acme-chat"
KEY_VARIABLE = "ACME_TEST_API_KEY"
QUESTION = "Which counties decide the Arizona Senate race?"
SDK_TIMEOUT_S = APP_SYNC_TIMEOUT_S + 30
TOPIC_READ_TIMEOUT_S = 30.0


def _catalogue(path: Path) -> Path:
    """The built-in models plus "acme" and its model (falling back to Gemini Flash)."""
    data = DEFAULT_CATALOGUE.model_dump(mode="json", by_alias=False)
    data["providers"] = [
        {
            "name": PROVIDER,
            "type": "openai_compatible",
            "base_url": "https://api.acme.invalid/v1",
            "api_key_env": KEY_VARIABLE,
        }
    ]
    data["models"].append(
        {
            "provider": PROVIDER,
            "model_id": MODEL,
            "capabilities": {"context_window": 32_000},
            "pricing": {
                "input_per_million_usd": 0.2,
                "output_per_million_usd": 0.6,
                "source": "test",
            },
            "timeout_s": 30.0,
            "first_token_timeout_s": 10.0,
            "fallbacks": [GEMINI_FLASH],
        }
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def stack(
    stack_factory: StackFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack with the catalogue in every process's environment."""
    path = _catalogue(tmp_path_factory.mktemp("catalogue") / "catalogue.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CATALOGUE_PATH", str(path))
        patch.delenv(KEY_VARIABLE, raising=False)
        with stack_factory() as running_stack:
            yield running_stack


@pytest.fixture(scope="module")
def client(stack: Stack) -> OpenAI:
    key = stack.key_for("az-senate")
    return OpenAI(base_url=f"{stack.app.base_url}/v1", api_key=key.key, timeout=SDK_TIMEOUT_S)


def _attempts_of(stack: Stack, analysis_id: str) -> list[ProviderAttempt]:
    reader = TopicReader(stack.bootstrap, stack.topics.provider_attempts, ProviderAttempt)
    try:
        events = reader.poll_until(
            lambda seen: any(
                e.served_analysis_id == analysis_id and e.outcome != "started" for e in seen
            ),
            TOPIC_READ_TIMEOUT_S,
        )
    finally:
        reader.close()
    return [e for e in events if e.served_analysis_id == analysis_id]


def test_the_declared_model_is_listed(client: OpenAI) -> None:
    assert MODEL in {model.id for model in client.models.list()}


def test_the_declared_provider_answers_a_chat(stack: Stack, client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}]
    )
    routing = (completion.model_extra or {})["x_routing"]
    assert completion.model == MODEL, routing
    assert routing["route"][0]["provider"] == PROVIDER
    assert not routing["failed_attempts"], routing["failed_attempts"]
    content = completion.choices[0].message.content or ""
    assert content.startswith(f"[emulated {MODEL}]")  # the emulator's OpenAI-compatible API

    analysis = stack.app.client.get(f"{API}/analyses/{routing['analysis_id']}").json()
    assert (analysis["routing"]["provider"], analysis["routing"]["model"]) == (PROVIDER, MODEL)
    assert analysis["result"] == content
    finished = [a for a in _attempts_of(stack, routing["analysis_id"]) if a.outcome != "started"]
    assert [(a.provider, a.model, a.outcome) for a in finished] == [(PROVIDER, MODEL, "success")]


def test_the_declared_provider_streams(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(f"[emulated {MODEL}]")
    assert {c.model for c in chunks} == {MODEL}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
