"""Where each provider lives and how to authenticate: read from the environment.

Without `GEMINI_API_KEY` / `PERPLEXITY_API_KEY` the clients talk to the provider
emulator at `EMULATOR_URL`; with a key set they talk to the real service, or to
`GEMINI_BASE_URL` / `PERPLEXITY_BASE_URL` when set: a proxy, a regional endpoint, or
(in the secret-leak test) the emulator with recognisable fake keys. The key is sent
to that URL, so set it only to an endpoint you trust with the key. A base URL without
a key is ignored: an unkeyed client always talks to the emulator.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
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
    gemini_base_url_override: str | None = Field(
        default=None,
        validation_alias=AliasChoices("gemini_base_url_override", "GEMINI_BASE_URL"),
        description="`GEMINI_BASE_URL`: where the keyed Gemini client sends its calls (and "
        "its key) instead of Google's endpoint; ignored without `GEMINI_API_KEY`.",
    )
    perplexity_base_url_override: str | None = Field(
        default=None,
        validation_alias=AliasChoices("perplexity_base_url_override", "PERPLEXITY_BASE_URL"),
        description="`PERPLEXITY_BASE_URL`: where the keyed Perplexity client sends its calls "
        "(and its key) instead of api.perplexity.ai; ignored without `PERPLEXITY_API_KEY`.",
    )
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
        "gemini_api_key",
        "perplexity_api_key",
        "gemini_base_url_override",
        "perplexity_base_url_override",
        "local_model_path",
        "catalogue_path",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`GEMINI_API_KEY=` (as docker compose passes an unset variable) means "not set"."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("gemini_base_url_override", "perplexity_base_url_override")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """A key must never go to a typo: only an absolute http(s) URL is accepted."""
        if value is None:
            return None
        url = value.strip()
        if not url.startswith(("https://", "http://")) or len(url) <= len("https://"):
            raise ValueError("a provider base URL must be an absolute http(s) URL")
        return url

    @property
    def gemini_emulated(self) -> bool:
        return self.gemini_api_key is None

    @property
    def perplexity_emulated(self) -> bool:
        return self.perplexity_api_key is None

    @property
    def gemini_base_url(self) -> str:
        """The emulator without a key; with one, `GEMINI_BASE_URL` or Google's endpoint."""
        if self.gemini_emulated:
            return self.emulator_url
        return self.gemini_base_url_override or GEMINI_REAL_BASE_URL

    @property
    def perplexity_base_url(self) -> str:
        """The emulator without a key; with one, `PERPLEXITY_BASE_URL` or Perplexity's."""
        if self.perplexity_emulated:
            return self.emulator_url
        return self.perplexity_base_url_override or PERPLEXITY_REAL_BASE_URL

    def keys_sent_by_emulator_url(self) -> list[str]:
        """The key variables whose client `EMULATOR_URL` would decide the target of: a key
        set without its own base URL. When EMULATOR_URL is set on purpose next to such a
        key, the deployment is confused (a demo shell with a real key exported): the app
        refuses to start. A key with an explicit base URL goes where that URL says."""
        return [
            name
            for name, key, base_url in (
                ("GEMINI_API_KEY", self.gemini_api_key, self.gemini_base_url_override),
                ("PERPLEXITY_API_KEY", self.perplexity_api_key, self.perplexity_base_url_override),
            )
            if key is not None and base_url is None
        ]

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
