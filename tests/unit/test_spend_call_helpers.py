"""The shared helpers every paid call books through (dispatcher, cross-check, direct path)."""

from __future__ import annotations

import pytest

from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, GEMINI_PRO, LOCAL_MODEL, SONAR
from services.common.spend import CampaignUsage
from services.common.spend_rules import (
    BUDGET_EXHAUSTED,
    budget_exhausted_error,
    is_paid_model,
    max_call_cost_usd,
    refusal_text,
    settled_cost_usd,
)

REQUEST = CompletionRequest(
    prompt="Wie steht es um die Wahlbeteiligung in Arizona? 📊", model="m",
    max_output_tokens=2048, timeout_s=5.0, system="You are an analyst.",
)  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "booked"),
    [
        ("success", 0.002),  # the cost the provider reported
        ("timeout", 0.05),  # the reserved maximum: it may have been billed
        ("error", 0.0),  # a refused or failed request is not billed
        ("skipped", 0.0),
    ],
)
def test_a_call_is_booked_by_its_outcome(outcome: str, booked: float) -> None:
    assert settled_cost_usd(outcome, 0.002, 0.05) == booked


def test_only_the_local_model_is_free() -> None:
    paid = {m: is_paid_model(DEFAULT_CATALOGUE.get(*m)) for m in
            [("gemini", GEMINI_PRO), ("gemini", GEMINI_FLASH), ("perplexity", SONAR),
             ("local", LOCAL_MODEL)]}  # fmt: skip
    assert paid == {("gemini", GEMINI_PRO): True, ("gemini", GEMINI_FLASH): True,
                    ("perplexity", SONAR): True, ("local", LOCAL_MODEL): False}  # fmt: skip


def test_the_bound_covers_every_prompt_byte_and_the_output_cap() -> None:
    spec = DEFAULT_CATALOGUE.get("gemini", GEMINI_PRO)
    prompt_bytes = len((REQUEST.prompt + (REQUEST.system or "")).encode())
    assert max_call_cost_usd(spec, REQUEST) > spec.cost_usd(prompt_bytes, REQUEST.max_output_tokens)


def test_the_exhausted_error_is_what_the_api_maps_to_402() -> None:
    usage = CampaignUsage("az", "2026-11", 0.99, 0.0, 1.0, 0.01)
    error = budget_exhausted_error("az", 1.0, [refusal_text("gemini", GEMINI_PRO, 0.05, usage)])
    assert error.startswith(f"{BUDGET_EXHAUSTED}:")
    assert "gemini/gemini-2.5-pro needs up to $0.050000, $0.010000 left" in error
