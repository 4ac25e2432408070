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
