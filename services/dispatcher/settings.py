"""Dispatcher settings (`DISPATCHER_*`), with infrastructure and provider settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.settings import ProviderSettings
from services.common.escalation_settings import EscalationSettings
from services.common.lease import LEASE_TTL_S
from services.common.settings import InfraSettings
from services.dispatcher.delta_coalescing import DEFAULT_COALESCE_MS
from services.dispatcher.dispatch_lease import BEGAN_TTL_S
from services.dispatcher.failover import MAX_RATE_LIMIT_RETRIES


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCHER_", extra="ignore")

    max_in_flight: int = Field(default=256, ge=1, description="Concurrent queries per process.")
    attempt_timeout_cap_s: float = Field(
        default=4.5,
        gt=0,
        description="Upper bound on a hosted attempt whose model has no first-token limit "
        "(a non-streaming client: nothing else tells hung from slow); also the most a later "
        "step keeps back from the earlier ones. A model with a first-token limit is not "
        "capped: it fails on its first-token, stall or total limit (slow is not failed).",
    )
    route_deadline_s: float = Field(
        default=25.0,
        gt=0,
        validation_alias="DISPATCHER_ROUTE_BUDGET_S",  # the env name predates "deadline"
        description="Total time one query may spend on its route (attempts and Retry-After "
        "waits): its deadline (services/dispatcher/deadline.py), from DISPATCHER_ROUTE_BUDGET_S. "
        "Keep it below STRATEGIST_SYNC_TIMEOUT_S (30 s) with room for the other hops.",
    )
    lease_ttl_s: float = Field(
        default=LEASE_TTL_S,
        gt=0,
        description="Time-to-live of the dispatch lease, renewed by its holder while it works: "
        "how long a delivery whose holder died (SIGKILL) waits before taking over.",
    )
    recovery_window_s: float = Field(
        default=BEGAN_TTL_S,
        gt=0,
        description="How long a begun dispatch is remembered: a query redelivered within it "
        "(the dispatcher died mid-answer) reads back the text it showed live and continues "
        "it; after it, the answer starts afresh.",
    )
    rate_limit_max_wait_s: float = Field(
        default=2.0,
        ge=0,
        description="Longest Retry-After waited out to call the same model once more (if the "
        "route deadline allows); a longer one moves on to the fallback at once.",
    )
    rate_limit_retries: int = Field(
        default=MAX_RATE_LIMIT_RETRIES,
        ge=0,
        description="429s with a short Retry-After waited out per route step; after that "
        "many the step's fallback is used.",
    )
    health_stale_after_s: float = Field(
        default=20.0,
        gt=0,
        description="Ignore a provider status older than this (a dead monitor must not pin "
        "a provider down); also how long without any status before the view logs as stale.",
    )
    escalation: EscalationSettings = Field(
        default_factory=EscalationSettings,
        description="The scorer's SCORER_ESCALATION_* and SCORER_ANSWER_CHECKS: an answer the "
        "scorer may replace is held back from live callers (services/dispatcher/release.py).",
    )
    delta_coalesce_ms: float = Field(
        default=DEFAULT_COALESCE_MS,
        ge=0,
        description="Text pieces read within this many milliseconds of an attempt's last "
        "delta event are merged into its next one (the first piece, and any piece after a "
        "quieter gap, is published at once); 0 publishes every piece as its own event.",
    )
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
