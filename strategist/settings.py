"""App settings (`STRATEGIST_*`, nested with `__`), with infrastructure and provider settings.

Examples: `STRATEGIST_ROUTING__ENABLED=false` turns intelligent routing off for every
campaign; `STRATEGIST_ROUTING__ROLLOUT_PERCENT=25` routes a stable quarter of campaigns.
Kafka, Redis and the namespace come from the shared unprefixed names
(`KAFKA_BOOTSTRAP_SERVERS`, `REDIS_URL`, `TOPIC_NAMESPACE`, `LOG_LEVEL`, ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.settings import ProviderSettings
from schemas.query import StreamMode
from services.common.settings import InfraSettings

DEFAULT_SYNC_TIMEOUT_S = 30.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_KAFKA_DELIVERY_TIMEOUT_S = 3.0
DEFAULT_READINESS_TIMEOUT_S = 2.0
DEFAULT_DIRECT_TIMEOUT_S = 25.0
DEFAULT_BACKGROUND_WORKERS = 8
DEFAULT_SYNC_WAIT_LIMIT = 6
"""Below gunicorn's default 8 threads per worker, leaving 2 for probes and polls."""
DEFAULT_ARCHIVE_WINDOW_S = 900.0
DEFAULT_ARCHIVE_BUDGET_S = 3.0
DEFAULT_KEY_CACHE_TTL_S = 3.0
"""A revoked key stops working within this long in every app process."""
DEFAULT_RATE_PER_MINUTE = 600
DEFAULT_BURST_S = 10.0
DEFAULT_LAST_USED_INTERVAL_S = 60.0
TRACE_ID_PLACEHOLDER = "{trace_id}"


class RoutingSettings(BaseModel):
    """The feature flag and its percentage rollout by campaign (A/B)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True, description="Off: every request takes the direct Gemini path."
    )
    rollout_percent: int = Field(
        default=100,
        ge=0,
        le=100,
        description="Share of campaigns (by a stable hash of campaign_id) that are routed.",
    )


AuthMode = Literal["required", "legacy"]
"""The values of `STRATEGIST_AUTH__MODE`; `/readyz` reports the one in force."""
KEYLESS_MODE: AuthMode = "legacy"
"""The keyless mode: requests without a key are served (a migration aid). The value keeps
the name it was deployed with; in the code it is the keyless mode."""


class AuthSettings(BaseModel):
    """API keys (`STRATEGIST_AUTH__*`): who may call `/api/v1/`, and how often."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: AuthMode = Field(
        default="required",
        description="`required`: every /api/v1/ request needs `Authorization: Bearer <key>`. "
        "`legacy`, the keyless mode (migration only): a request without a key behaves as "
        "before the keys existed (campaign from the body); one with a key is checked as in "
        "`required`.",
    )
    key_cache_ttl_s: float = Field(
        default=DEFAULT_KEY_CACHE_TTL_S,
        gt=0,
        le=60,
        description="How long a process trusts a key looked up in PostgreSQL (a revocation "
        "takes effect within this long).",
    )
    default_rate_per_minute: int = Field(
        default=DEFAULT_RATE_PER_MINUTE,
        ge=1,
        description="Requests per minute per key for keys created without --rate-per-minute.",
    )
    burst_s: float = Field(
        default=DEFAULT_BURST_S,
        gt=0,
        description="A key may spend this many seconds' worth of its rate at once.",
    )
    last_used_interval_s: float = Field(
        default=DEFAULT_LAST_USED_INTERVAL_S,
        gt=0,
        description="A key's `last use` is written at most this often per process.",
    )

    @property
    def keyless(self) -> bool:
        """Whether a request without a key is served (the keyless mode)."""
        return self.mode == KEYLESS_MODE


DEFAULT_CONSOLE_SESSION_HOURS = 8.0
DEFAULT_CONSOLE_PAGE_SIZE = 25


class ConsoleSettings(BaseModel):
    """The web console (`STRATEGIST_CONSOLE__*`, pages under `/console/`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the console's session cookie and CSRF tokens; the same in every "
        "app process (at least 32 characters). Unset: the console answers 503 naming it.",
    )
    session_hours: float = Field(
        default=DEFAULT_CONSOLE_SESSION_HOURS,
        gt=0,
        le=24 * 7,
        description="A console sign-in expires after this long.",
    )
    page_size: int = Field(
        default=DEFAULT_CONSOLE_PAGE_SIZE, ge=5, le=200, description="History rows per page."
    )


class StrategistSettings(BaseSettings):
    """Everything the Flask app reads from its environment, built once in `create_app`."""

    model_config = SettingsConfigDict(
        env_prefix="STRATEGIST_",
        env_nested_delimiter="__",
        extra="ignore",
        hide_input_in_errors=True,
    )

    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    sync_timeout_s: float = Field(
        default=DEFAULT_SYNC_TIMEOUT_S,
        gt=0,
        description="How long POST /analyze waits before answering 202 with a status URL.",
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES, ge=1024, description="Larger request bodies get 413."
    )
    kafka_delivery_timeout_s: float = Field(
        default=DEFAULT_KAFKA_DELIVERY_TIMEOUT_S,
        gt=0,
        description="The app's producer gives up after this, and the direct path answers.",
    )
    readiness_timeout_s: float = Field(
        default=DEFAULT_READINESS_TIMEOUT_S,
        gt=0,
        description="Bound on each /readyz check (Kafka metadata, Redis PING).",
    )
    direct_timeout_s: float = Field(
        default=DEFAULT_DIRECT_TIMEOUT_S,
        gt=0,
        description="Bound on the direct Gemini call (it has no fallback to move to).",
    )
    background_workers: int = Field(
        default=DEFAULT_BACKGROUND_WORKERS,
        ge=1,
        description="Threads per process running accepted direct-path analyses (POST /analyses).",
    )
    server_threads: int = Field(
        default=2000,
        ge=1,
        description="Under the ASGI server (strategist/asgi.py): requests and event streams "
        "served at once per process (each holds a thread, blocked while it waits).",
    )
    stream_mode: StreamMode = Field(
        default="auto",
        description="The stream mode of a streaming caller that names none (`x_stream_mode` "
        "on /v1/chat/completions with `stream: true`; `options.stream_mode` on the strategist "
        "API's event stream, `POST /analyses` and `POST /analyze` with `Accept: "
        "text/event-stream`): `live` shows each answer as it is written (a failover after "
        "text was shown restarts it, or ends a /v1 stream with an error); `buffered` shows an "
        "answer once its attempt succeeded (a failover stays invisible); `auto` lets the "
        "dispatcher show an attempt live when the model that would take over first can "
        "continue a cut answer, buffered otherwise (docs/streaming.md). A JSON caller always "
        "runs `buffered`.",
    )
    sync_wait_limit: int = Field(
        default=DEFAULT_SYNC_WAIT_LIMIT,
        ge=1,
        description="POST /analyze callers per process that may wait at once; more are "
        "answered 202 with a status URL. Keep it below the server's threads per process.",
    )
    archive_window_s: float = Field(
        default=DEFAULT_ARCHIVE_WINDOW_S,
        gt=0,
        description="A read that misses in Redis looks for the answer on the responses topic "
        "among records stamped within this long after the analysis was created.",
    )
    archive_budget_s: float = Field(
        default=DEFAULT_ARCHIVE_BUDGET_S,
        gt=0,
        description="Bound on one such lookup on the responses topic.",
    )
    trace_url_template: str | None = Field(
        default=None,
        description="The console links an analysis's trace id to this URL, with "
        f"`{TRACE_ID_PLACEHOLDER}` replaced (e.g. Jaeger's "
        f"`http://localhost:16686/trace/{TRACE_ID_PLACEHOLDER}`); unset or empty: no link.",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)

    @field_validator("trace_url_template")
    @classmethod
    def _a_web_address_naming_the_trace(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")) or TRACE_ID_PLACEHOLDER not in value:
            raise ValueError(f"an http(s) URL containing {TRACE_ID_PLACEHOLDER}, e.g. "
                             f"http://localhost:16686/trace/{TRACE_ID_PLACEHOLDER}")
        return value

    @model_validator(mode="after")
    def _real_keys_never_meet_the_emulator(self) -> StrategistSettings:
        """Refuse a deployment wired to the provider emulator that also holds real provider
        keys (say, a developer's shell exporting GEMINI_API_KEY before `make demo`): such a
        stack would spend the keys on real calls, or hand them to the emulator. A key with
        its own base URL (`GEMINI_BASE_URL`, `PERPLEXITY_BASE_URL`) is a deliberate choice
        of where it goes, so EMULATOR_URL does not decide its target and is no conflict.
        The message names the variables, never a key's value."""
        providers = self.providers
        emulator_chosen = "emulator_url" in providers.model_fields_set and bool(
            providers.emulator_url.strip()
        )
        real = providers.keys_sent_by_emulator_url()
        if emulator_chosen and real:
            raise ValueError(
                f"{' and '.join(real)} set while EMULATOR_URL points this deployment at the "
                f"provider emulator ({providers.emulator_url}): real provider keys must not "
                "meet the emulator. Unset the key(s) to run against the emulator, or unset "
                "EMULATOR_URL (set it empty) to use the real providers, or name where each "
                "key goes with GEMINI_BASE_URL / PERPLEXITY_BASE_URL."
            )
        return self
