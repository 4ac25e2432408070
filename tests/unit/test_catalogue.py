"""Cost computation from provider-reported usage."""

from __future__ import annotations

import json

import pytest

from providers.catalogue import DEFAULT_CATALOGUE, Catalogue


@pytest.mark.parametrize(
    ("provider", "model", "tokens_in", "tokens_out", "expected"),
    [
        ("gemini", "gemini-2.5-pro", 1_000_000, 0, 1.25),
        ("gemini", "gemini-2.5-pro", 0, 1_000_000, 10.0),
        ("gemini", "gemini-2.5-flash", 2_000, 1_000, 0.0006 + 0.0025),
        ("perplexity", "sonar", 1_000, 1_000, 0.002 + 0.005),
        ("perplexity", "sonar-pro", 1_000, 1_000, 0.003 + 0.015 + 0.006),
        ("local", "local-gguf", 5_000, 5_000, 0.0),
    ],
)
def test_cost_from_usage(
    provider: str, model: str, tokens_in: int, tokens_out: int, expected: float
) -> None:
    spec = DEFAULT_CATALOGUE.get(provider, model)
    assert spec.cost_usd(tokens_in, tokens_out) == pytest.approx(expected)


def test_every_price_names_its_source_and_every_provider_is_catalogued() -> None:
    assert {m.provider for m in DEFAULT_CATALOGUE.models} == {"gemini", "perplexity", "local"}
    assert all(m.pricing.source for m in DEFAULT_CATALOGUE.models)
    assert all(m.timeout_s > 0 for m in DEFAULT_CATALOGUE.models)


def test_unknown_model_is_a_named_key_error() -> None:
    with pytest.raises(KeyError, match="gemini/gemini-1.0"):
        DEFAULT_CATALOGUE.get("gemini", "gemini-1.0")


def test_catalogue_loads_from_a_json_file(tmp_path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(DEFAULT_CATALOGUE.model_dump()))
    assert Catalogue.load(path) == DEFAULT_CATALOGUE


def test_a_thinking_model_is_not_failed_while_it_thinks() -> None:
    """Real Gemini 2.5 Pro thinks 10-30 s before its first streamed chunk."""
    pro = DEFAULT_CATALOGUE.get("gemini", "gemini-2.5-pro")
    assert pro.first_token_limit_s >= 30.0
    assert pro.total_timeout_s > pro.first_token_limit_s
    for spec in DEFAULT_CATALOGUE.models:
        assert spec.first_token_limit_s <= spec.total_timeout_s
        assert spec.max_retries_same_model == 1


def test_only_the_models_whose_api_continues_a_prefill_accept_a_continuation() -> None:
    """Gemini continues a final `model` content; Sonar's API wants the user's message last;
    llama-cpp-python's chat template closes the assistant turn (docs/providers.md)."""
    accepting = {s.model_id for s in DEFAULT_CATALOGUE.models if s.accepts_continuation}
    assert accepting == {"gemini-2.5-pro", "gemini-2.5-flash"}


def test_every_fallback_names_another_catalogued_model() -> None:
    for spec in DEFAULT_CATALOGUE.models:
        fallbacks = DEFAULT_CATALOGUE.fallbacks_for(spec)
        assert fallbacks, f"{spec.model_id} has no fallback"
        assert all(f.model_id != spec.model_id for f in fallbacks)


YAML_CATALOGUE = """
providers:
  - name: perplexity
    type: openai_compatible
    base_url: https://llm.example.test/v1
    api_key_env: EXAMPLE_LLM_KEY
models:
  - provider: perplexity
    model_id: big-model
    capabilities: {context_window: 200000}
    pricing: {input_per_million_usd: 1, output_per_million_usd: 2, source: example}
    total_timeout_s: 90
    first_token_timeout_s: 12
    stall_timeout_s: 5
    cooldown_s: 2
    accepts_continuation: true
    fallbacks: [small-model]
  - provider: perplexity
    model_id: small-model
    capabilities: {context_window: 8000}
    pricing: {input_per_million_usd: 0.1, output_per_million_usd: 0.2, source: example}
"""


def test_catalogue_loads_from_yaml_with_an_openai_compatible_provider(tmp_path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(YAML_CATALOGUE)
    catalogue = Catalogue.load(path)
    declared = catalogue.provider_spec("perplexity")
    assert declared is not None and declared.type == "openai_compatible"
    assert declared.api_key_env == "EXAMPLE_LLM_KEY"
    big = catalogue.get("perplexity", "big-model")
    assert (big.total_timeout_s, big.timeout_s, big.first_token_limit_s) == (90, 90, 12)
    assert big.stall_timeout_s == 5 and big.cooldown_s == 2 and big.accepts_continuation
    assert [f.model_id for f in catalogue.fallbacks_for(big)] == ["small-model"]


@pytest.mark.parametrize(
    ("fallbacks", "message"),
    [(["no-such-model"], "not in catalogue"), (["perplexity/big-model"], "falls back to itself")],
)
def test_a_fallback_that_names_nothing_is_refused_at_load(tmp_path, fallbacks, message) -> None:
    data = DEFAULT_CATALOGUE.model_dump()
    data["models"].append(
        {
            "provider": "perplexity",
            "model_id": "big-model",
            "capabilities": {"context_window": 1000},
            "pricing": {"input_per_million_usd": 0, "output_per_million_usd": 0, "source": "x"},
            "fallbacks": fallbacks,
        }
    )
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        Catalogue.load(path)
