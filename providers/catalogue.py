"""The model catalogue: every model we can route to, its abilities, price and timeout.

Prices are public list prices in USD, checked against the sources named in
`Pricing.source` (Gemini: ai.google.dev/gemini-api/docs/pricing, standard tier,
prompts <= 200k tokens; Perplexity: docs.perplexity.ai/getting-started/pricing,
"low" search-context request fee). A deployment may replace the whole catalogue
with a JSON file (setting `CATALOGUE_PATH`) of the same shape.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import ProviderName

TOKENS_PER_MILLION = 1_000_000
DEFAULT_ATTEMPT_TIMEOUT_S = 4.0
"""Per-attempt bound so that a hung provider is left well inside the 5 s failover budget."""


class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    live_web_search: bool = False
    deep_reasoning: bool = False
    context_window: int = Field(gt=0)


class Pricing(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million_usd: float = Field(ge=0.0)
    output_per_million_usd: float = Field(ge=0.0)
    per_request_usd: float = Field(ge=0.0, default=0.0)
    source: str


class ModelSpec(BaseModel):
    """One routable model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: ProviderName
    model_id: str
    capabilities: Capabilities
    pricing: Pricing
    timeout_s: float = Field(gt=0.0, default=DEFAULT_ATTEMPT_TIMEOUT_S)
    max_output_tokens: int = Field(gt=0, default=1024)

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Cost of one call from the usage the provider reported."""
        p = self.pricing
        return (
            input_tokens * p.input_per_million_usd / TOKENS_PER_MILLION
            + output_tokens * p.output_per_million_usd / TOKENS_PER_MILLION
            + p.per_request_usd
        )


class Catalogue(BaseModel):
    """All models, looked up by (provider, model id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: list[ModelSpec] = Field(min_length=1)

    def get(self, provider: str, model_id: str) -> ModelSpec:
        """The spec for a model; raises KeyError naming it when it is not catalogued."""
        for spec in self.models:
            if spec.provider == provider and spec.model_id == model_id:
                return spec
        raise KeyError(f"model not in catalogue: {provider}/{model_id}")

    def for_provider(self, provider: str) -> list[ModelSpec]:
        return [spec for spec in self.models if spec.provider == provider]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalogue:
        """The catalogue from a JSON file, or the built-in default when no path is given."""
        if path is None:
            return DEFAULT_CATALOGUE
        return cls.model_validate(json.loads(Path(path).read_text()))


GEMINI_PRICING_SOURCE = "https://ai.google.dev/gemini-api/docs/pricing (standard, <=200k prompt)"
PERPLEXITY_PRICING_SOURCE = (
    "https://docs.perplexity.ai/getting-started/pricing (low search context request fee)"
)

GEMINI_PRO = "gemini-2.5-pro"
GEMINI_FLASH = "gemini-2.5-flash"
SONAR = "sonar"
SONAR_PRO = "sonar-pro"
LOCAL_MODEL = "local-gguf"

DEFAULT_CATALOGUE = Catalogue(
    models=[
        ModelSpec(
            provider="gemini",
            model_id=GEMINI_PRO,
            capabilities=Capabilities(deep_reasoning=True, context_window=1_048_576),
            pricing=Pricing(
                input_per_million_usd=1.25,
                output_per_million_usd=10.00,
                source=GEMINI_PRICING_SOURCE,
            ),
            max_output_tokens=2048,
        ),
        ModelSpec(
            provider="gemini",
            model_id=GEMINI_FLASH,
            capabilities=Capabilities(context_window=1_048_576),
            pricing=Pricing(
                input_per_million_usd=0.30,
                output_per_million_usd=2.50,
                source=GEMINI_PRICING_SOURCE,
            ),
        ),
        ModelSpec(
            provider="perplexity",
            model_id=SONAR_PRO,
            capabilities=Capabilities(live_web_search=True, context_window=200_000),
            pricing=Pricing(
                input_per_million_usd=3.00,
                output_per_million_usd=15.00,
                per_request_usd=0.006,
                source=PERPLEXITY_PRICING_SOURCE,
            ),
        ),
        ModelSpec(
            provider="perplexity",
            model_id=SONAR,
            capabilities=Capabilities(live_web_search=True, context_window=128_000),
            pricing=Pricing(
                input_per_million_usd=1.00,
                output_per_million_usd=1.00,
                per_request_usd=0.005,
                source=PERPLEXITY_PRICING_SOURCE,
            ),
        ),
        ModelSpec(
            provider="local",
            model_id=LOCAL_MODEL,
            capabilities=Capabilities(context_window=2048),
            pricing=Pricing(
                input_per_million_usd=0.0,
                output_per_million_usd=0.0,
                source="self-hosted llama.cpp; hardware cost not metered per call",
            ),
            timeout_s=30.0,
            max_output_tokens=96,
        ),
    ]
)
"""Built-in catalogue. The local model gets a longer timeout: it runs on our own CPU,
is only primary for short cost-sensitive edits, and is the last resort in every route."""
