"""GenAI span attributes, by the OpenTelemetry GenAI semantic conventions (v1.37+).

The names are written once here, so a rename in the conventions is one edit. Provider
names map to the conventions' well-known `gen_ai.provider.name` values where one exists
(`gcp.gemini` is the Gemini Developer API); a provider the catalogue declares keeps its
own name. Our own attributes use the `strategist.` prefix (`tracing.PREFIX`).
"""

from __future__ import annotations

from typing import Final

OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
ERROR_TYPE: Final = "error.type"
CHAT: Final = "chat"

WELL_KNOWN_PROVIDERS: Final = {"gemini": "gcp.gemini", "perplexity": "perplexity"}


def provider_name(provider: str) -> str:
    """The conventions' `gen_ai.provider.name` for one of our provider names."""
    return WELL_KNOWN_PROVIDERS.get(provider, provider)


def span_name(model: str) -> str:
    """`{gen_ai.operation.name} {gen_ai.request.model}`, as the conventions name it."""
    return f"{CHAT} {model}"


def text_messages(role: str, text: str) -> str:
    """One message in the conventions' JSON shape (only when content capture is on)."""
    import json

    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])
