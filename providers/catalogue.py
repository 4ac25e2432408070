"""The model catalogue: every model we can route to, its abilities, price and limits.

Prices are public list prices in USD, checked against the sources named in
`Pricing.source` (Gemini: ai.google.dev/gemini-api/docs/pricing, standard tier,
prompts <= 200k tokens; Perplexity: docs.perplexity.ai/getting-started/pricing,
"low" search-context request fee). A deployment may replace the whole catalogue
with a JSON or YAML file (setting `CATALOGUE_PATH`) of the same shape, which may
also declare providers of type `openai_compatible` (see docs/providers.md).

Time limits per model (`ModelSpec`), all in seconds:

- `headers_timeout_s`: from sending the request (connecting included) to the response's
  HTTP headers. A working server sends its headers as soon as it accepts the request,
  before any thinking, so this limit is short and catches a hung upstream in seconds
  without failing a slow model; None (the local model) leaves it to the first-token limit.
  Streamed calls only: a non-streamed answer's headers come with the whole answer.
- `first_token_timeout_s`: from sending the request to the first answer token. Gemini
  streams its first chunk only after the model has finished thinking, so a thinking
  model's limit covers its thinking time; it is the limit that catches a silent
  (hung) upstream.
- `stall_timeout_s`: the longest gap between two chunks once the answer has started.
- `timeout_s` (alias `total_timeout_s`): the total deadline of one attempt. A slow model
  that keeps streaming is not failed before it.

The built-in values are static ceilings for the real services (see DEFAULT_CATALOGUE);
`providers.limits` narrows the first-token limit from a model's observed latency.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from schemas.base import PROVIDER_NAMES, ProviderName

TOKENS_PER_MILLION = 1_000_000
DEFAULT_ATTEMPT_TIMEOUT_S = 4.0
"""Total deadline of a model that declares none (kept from the non-streaming design)."""
DEFAULT_HEADERS_TIMEOUT_S = 3.0
"""Connect and response headers: hosted APIs send their headers in well under a second (TLS
included), so 3 s without them is a failing upstream; it leaves the fallback 2 s to start
answering within the user story's 5 s rule."""
DEFAULT_STALL_TIMEOUT_S = 10.0
"""Gap between chunks: hosted APIs send a chunk every few hundred ms once they answer."""
DEFAULT_MAX_RETRIES_SAME_MODEL = 1
DEFAULT_COOLDOWN_S = 5.0
"""How long a failing model is skipped before real traffic probes it again (half-open)."""
YAML_SUFFIXES = (".yaml", ".yml")
CACHED_CATALOGUES = 4
"""Catalogue files `cached_catalogue` keeps parsed (a process uses one)."""
OPENAI_COMPATIBLE: Literal["openai_compatible"] = "openai_compatible"


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


class ProviderSpec(BaseModel):
    """A provider declared in the catalogue file: any OpenAI-compatible chat-completions API.

    `name` is any provider name (lowercase letters, digits, `_`, `-`, at most 32; see
    schemas.base.ProviderName): "together", "groq", "my-vllm". `api_key_env` names the
    environment variable that holds the key (the key itself is never written in the
    catalogue, nor logged). Without that variable set, the client
    talks to the emulator's OpenAI-compatible API instead (like the built-in providers).
    A declared provider with a built-in name replaces that provider's built-in client.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ProviderName
    type: Literal["openai_compatible"] = OPENAI_COMPATIBLE
    base_url: str = Field(min_length=1)
    api_key_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class ModelSpec(BaseModel):
    """One routable model, with its limits (see the module docstring) and fallbacks.

    `fallbacks` names other catalogued models (`model_id`, or `provider/model_id` when an
    id is ambiguous) to try, in order, when this one fails. `accepts_continuation` says the
    model may be sent a partial answer to continue (an assistant-prefill message); a model
    that does not say so is never sent one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    provider: ProviderName
    model_id: str
    capabilities: Capabilities
    pricing: Pricing
    timeout_s: float = Field(
        gt=0.0,
        default=DEFAULT_ATTEMPT_TIMEOUT_S,
        validation_alias=AliasChoices("timeout_s", "total_timeout_s"),
    )
    max_output_tokens: int = Field(gt=0, default=1024)
    headers_timeout_s: float | None = Field(gt=0.0, default=DEFAULT_HEADERS_TIMEOUT_S)
    """None: the first-token limit is the only bound on the response headers."""
    first_token_timeout_s: float | None = Field(gt=0.0, default=None)
    """None: the total deadline (`timeout_s`) is the only bound on the first token."""
    stall_timeout_s: float = Field(gt=0.0, default=DEFAULT_STALL_TIMEOUT_S)
    max_retries_same_model: int = Field(ge=0, default=DEFAULT_MAX_RETRIES_SAME_MODEL)
    cooldown_s: float = Field(ge=0.0, default=DEFAULT_COOLDOWN_S)
    accepts_continuation: bool = False
    fallbacks: list[str] = Field(default_factory=list)

    @property
    def total_timeout_s(self) -> float:
        """The total deadline of one attempt (the same value as `timeout_s`)."""
        return self.timeout_s

    @property
    def first_token_limit_s(self) -> float:
        """The first-token limit, never beyond the total deadline."""
        if self.first_token_timeout_s is None:
            return self.timeout_s
        return min(self.first_token_timeout_s, self.timeout_s)

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Cost of one call from the usage the provider reported."""
        p = self.pricing
        return (
            input_tokens * p.input_per_million_usd / TOKENS_PER_MILLION
            + output_tokens * p.output_per_million_usd / TOKENS_PER_MILLION
            + p.per_request_usd
        )


class Catalogue(BaseModel):
    """All models, looked up by (provider, model id), and the declared providers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: list[ProviderSpec] = Field(default_factory=list)
    models: list[ModelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalogue:
        """Provider names unique; every model's provider built in or declared (so it has
        a client); every fallback names one catalogued model, not itself."""
        names = [p.name for p in self.providers]
        if len(names) != len(set(names)):
            raise ValueError(f"providers: a name is declared twice: {names}")
        known = self.provider_names()
        for spec in self.models:
            if spec.provider not in known:
                raise ValueError(
                    f"{spec.provider}/{spec.model_id}: provider {spec.provider!r} is neither "
                    f"built in nor declared under `providers` (known: {', '.join(known)})"
                )
        for spec in self.models:
            for ref in spec.fallbacks:
                try:
                    target = self.resolve(ref)
                except KeyError as err:
                    raise ValueError(f"{spec.provider}/{spec.model_id}: {err.args[0]}") from err
                if (target.provider, target.model_id) == (spec.provider, spec.model_id):
                    raise ValueError(f"{spec.provider}/{spec.model_id}: falls back to itself")
        return self

    def resolve(self, ref: str) -> ModelSpec:
        """The model a reference names: `provider/model_id`, or a `model_id` that is unique.

        Raises KeyError naming the reference when it matches no model or several.
        """
        provider, _, model_id = ref.rpartition("/")
        found = [
            spec
            for spec in self.models
            if spec.model_id == model_id and (not provider or spec.provider == provider)
        ]
        if len(found) != 1:
            reason = "not in catalogue" if not found else "ambiguous: name its provider"
            raise KeyError(f"model {reason}: {ref}")
        return found[0]

    def fallbacks_for(self, spec: ModelSpec) -> list[ModelSpec]:
        """The model's declared fallbacks, in order."""
        return [self.resolve(ref) for ref in spec.fallbacks]

    def provider_names(self) -> tuple[str, ...]:
        """Every provider that has a client: the built-in ones, then the declared ones."""
        declared = tuple(p.name for p in self.providers if p.name not in PROVIDER_NAMES)
        return PROVIDER_NAMES + declared

    def routable_providers(self) -> tuple[str, ...]:
        """The providers with at least one catalogued model (the names a route may use)."""
        return tuple(name for name in self.provider_names() if self.for_provider(name))

    def provider_spec(self, name: str) -> ProviderSpec | None:
        """The declared provider of that name, if the catalogue declares one."""
        return next((p for p in self.providers if p.name == name), None)

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
        """The catalogue from a JSON or YAML file (by suffix), or the built-in default.

        Raises pydantic.ValidationError on a bad shape or an unresolved fallback.
        """
        if path is None:
            return DEFAULT_CATALOGUE
        path = Path(path)
        text = path.read_text()
        data: Any
        if path.suffix.lower() in YAML_SUFFIXES:
            import yaml  # only a YAML catalogue needs it

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        return cls.model_validate(data)


@lru_cache(maxsize=CACHED_CATALOGUES)
def cached_catalogue(path: str | None) -> Catalogue:
    """`Catalogue.load(path)`, parsed once per process: for checks on every request (the
    providers a request may name) that must not read the file each time."""
    return Catalogue.load(path)


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
            timeout_s=120.0,
            first_token_timeout_s=45.0,
            stall_timeout_s=15.0,
            accepts_continuation=True,
            fallbacks=[GEMINI_FLASH, SONAR_PRO],
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
            timeout_s=60.0,
            first_token_timeout_s=20.0,
            accepts_continuation=True,
            fallbacks=[SONAR, GEMINI_PRO],
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
            timeout_s=60.0,
            first_token_timeout_s=15.0,
            accepts_continuation=False,
            fallbacks=[SONAR, GEMINI_PRO],
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
            timeout_s=45.0,
            first_token_timeout_s=10.0,
            accepts_continuation=False,
            fallbacks=[SONAR_PRO, GEMINI_FLASH],
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
            headers_timeout_s=None,
            first_token_timeout_s=20.0,
            max_output_tokens=96,
            accepts_continuation=False,
            fallbacks=[GEMINI_FLASH],
        ),
    ]
)
"""Built-in catalogue.

Limits are ceilings for the real services, where slow is not failed:

- Gemini 2.5 Pro thinks before it answers, and its first streamed chunk comes only after
  the thinking: 10-30 s is common for the complex questions routed to it, so its first
  token may take 45 s (1.5 x the top of that range) and the whole answer 120 s. A 4.5 s
  cap would fail most real Pro answers over to another provider.
- Gemini 2.5 Flash thinks too (dynamic budget), usually a few seconds: 20 s / 60 s.
- Perplexity searches first, then answers; Sonar Pro 15 s / 60 s, Sonar 10 s / 45 s.
- The local model runs on our own CPU (prompt processing first): 20 s / 30 s; it is only
  primary for short cost-sensitive edits and the last resort in every route.

Continuation (`accepts_continuation`, from each provider's documentation; sources in
docs/providers.md, "Continuing a cut answer"): the Gemini API continues a request whose last
`contents` entry has the `model` role, so both Gemini models accept one; Perplexity's Sonar
API refuses a last message that is not the user's ("Last message must have role `user`"),
so neither Sonar model does; llama-cpp-python's server renders every chat message as a
closed turn and then opens a new assistant turn (`Jinja2ChatFormatter`,
`add_generation_prompt=True`), so the local chat model cannot continue one either.

Every hosted model's header limit is DEFAULT_HEADERS_TIMEOUT_S (3 s): a hung upstream sends
no headers and is left then, however long the model may think. Every stall limit (gap
between chunks once answering) is 10 s, Pro's 15 s. Against the
emulator (or once a model's latency is observed) `providers.limits` derives much shorter
first-token limits from the observed distribution, so a hung upstream is left in seconds.
"""
