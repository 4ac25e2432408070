"""How each emulated model behaves: answer length, thinking, latency.

Latency is modelled as time to first token plus a per-output-token rate, so a
one-token probe is quick and a long Gemini 2.5 Pro answer takes about 1.5 s at
latency scale 1.0. Every figure stays well under the 4 s attempt timeout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelProfile:
    model: str
    provider: str
    min_answer_tokens: int
    max_answer_tokens: int
    first_token_s: float
    per_token_s: float
    thinking_tokens: tuple[int, int] = (0, 0)
    """Range of `thoughtsTokenCount` (Gemini thinking models); (0, 0) means none reported."""
    citations: tuple[int, int] = (0, 0)
    """Range of citations returned (Perplexity)."""
    certainty: float = 0.0
    """Shifts avgLogprobs up (more certain) for stronger models."""
    context_window: int = 128_000


PROFILES: dict[str, ModelProfile] = {
    p.model: p
    for p in (
        ModelProfile(
            "gemini-2.5-pro",
            "gemini",
            350,
            600,
            0.85,
            0.0011,
            thinking_tokens=(180, 720),
            certainty=0.08,
            context_window=1_048_576,
        ),
        ModelProfile("gemini-2.5-flash", "gemini", 150, 320, 0.2, 0.0008, context_window=1_048_576),
        ModelProfile(
            "gemini-2.5-flash-lite", "gemini", 120, 260, 0.15, 0.0006, context_window=1_048_576
        ),
        ModelProfile("sonar", "perplexity", 150, 300, 0.35, 0.0020, citations=(4, 6)),
        ModelProfile(
            "sonar-pro",
            "perplexity",
            250,
            450,
            0.5,
            0.0022,
            citations=(6, 9),
            context_window=200_000,
        ),
        ModelProfile("sonar-reasoning", "perplexity", 250, 450, 0.8, 0.0022, citations=(4, 7)),
        ModelProfile("sonar-reasoning-pro", "perplexity", 300, 500, 1.0, 0.0022, citations=(6, 9)),
        ModelProfile("gpt-4.1", "openai", 250, 450, 0.6, 0.0015, certainty=0.05),
        ModelProfile("gpt-4.1-mini", "openai", 150, 300, 0.35, 0.0010),
    )
}

GEMINI_PROBE_S = 0.04
"""models.get answers from metadata: fast at any load."""


GENERIC_BASE = {"gemini": "gemini-2.5-flash", "openai": "gpt-4.1-mini"}
"""Unknown names get this model's profile: `gemini-*` at Gemini, any name at the
OpenAI-compatible API (which serves whatever a catalogue declares)."""


def profile_for(provider: str, model: str) -> ModelProfile | None:
    """The profile of a known model, a generic one where the API takes any name; else None."""
    profile = PROFILES.get(model)
    if profile is not None and (profile.provider == provider or provider != "openai"):
        return profile if profile.provider == provider else None
    generic = provider == "openai" or (provider == "gemini" and model.startswith("gemini-"))
    if generic and model:
        base = profile or PROFILES[GENERIC_BASE[provider]]
        return ModelProfile(
            model,
            provider,
            base.min_answer_tokens,
            base.max_answer_tokens,
            base.first_token_s,
            base.per_token_s,
            context_window=base.context_window,
        )
    return None
