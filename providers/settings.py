"""Where each provider lives and how to authenticate: read from the environment.

Without `GEMINI_API_KEY` / `PERPLEXITY_API_KEY` the clients talk to the provider
emulator at `EMULATOR_URL`; with a key set they talk to the real service.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GEMINI_REAL_BASE_URL = "https://generativelanguage.googleapis.com"
PERPLEXITY_REAL_BASE_URL = "https://api.perplexity.ai"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8090"
DEFAULT_LOCAL_MODEL_URL = "http://127.0.0.1:8091/v1"
EMULATOR_PLACEHOLDER_KEY = "emulator-no-key"
"""Sent to the emulator only; it accepts any key. Not a secret and never used for real calls."""
SDK_MAX_RETRIES = 0
"""The dispatcher fails over across providers; SDK-level retries would multiply the delay."""


class ProviderSettings(BaseSettings):
    """Provider endpoints and keys (unprefixed env names, as the providers document them)."""

    model_config = SettingsConfigDict(extra="ignore")

    gemini_api_key: SecretStr | None = None
    perplexity_api_key: SecretStr | None = None
    emulator_url: str = DEFAULT_EMULATOR_URL
    local_model_url: str = DEFAULT_LOCAL_MODEL_URL
    local_model_path: str | None = Field(
        default=None,
        description="GGUF file for the local server; default: SmolLM2-135M-Instruct "
        "(`python -m providers.local_server --builtin gemma-3-270m --print-path` gives Gemma's).",
    )
    local_model_prompt_format: Literal["auto", "chat", "completion"] = Field(
        default="auto",
        description="How the client prompts the local model: `chat` (the GGUF's chat template, "
        "instruct models), `completion` (a plain-text prompt, base models), or `auto`: read "
        "the served GGUF's metadata (chat template present: chat).",
    )
    local_model_logprobs: bool = Field(
        default=True,
        description="Ask the local model for its generated tokens' log-probabilities "
        "(`avg_logprob`, the local model's certainty). Free with our server "
        "(docs/local_model.md); false for a server that cannot return them.",
    )
    catalogue_path: str | None = None

    @field_validator(
        "gemini_api_key", "perplexity_api_key", "local_model_path", "catalogue_path", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`GEMINI_API_KEY=` (as docker compose passes an unset variable) means "not set"."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def gemini_emulated(self) -> bool:
        return self.gemini_api_key is None

    @property
    def perplexity_emulated(self) -> bool:
        return self.perplexity_api_key is None

    @property
    def gemini_base_url(self) -> str:
        return GEMINI_REAL_BASE_URL if not self.gemini_emulated else self.emulator_url

    @property
    def perplexity_base_url(self) -> str:
        return PERPLEXITY_REAL_BASE_URL if not self.perplexity_emulated else self.emulator_url

    def secret_from_env(self, variable: str) -> str | None:
        """The key of a catalogue-declared provider, from the variable the catalogue names
        (`api_key_env`); None when unset or blank. Never logged, never in a repr."""
        value = os.environ.get(variable, "").strip()
        return value or None

    def gemini_key(self) -> str:
        return (
            self.gemini_api_key.get_secret_value()
            if self.gemini_api_key
            else (EMULATOR_PLACEHOLDER_KEY)
        )

    def perplexity_key(self) -> str:
        return (
            self.perplexity_api_key.get_secret_value()
            if self.perplexity_api_key
            else (EMULATOR_PLACEHOLDER_KEY)
        )
