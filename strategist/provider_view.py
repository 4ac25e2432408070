"""The providers health view: latest status per provider, with its catalogue models.

The health service keeps the newest ProviderStatus per provider in a Redis hash.
Every provider of the catalogue is listed (the built-in ones and those it declares), and
any other the health service reports on; one it has not reported on shows as "unknown"
with a reason (it is not monitored, see HEALTH_MONITORED_PROVIDERS, or not probed yet),
and a status older than `STALE_AFTER_S` (several missed heartbeats) is flagged stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from providers.catalogue import Catalogue
from schemas.base import ProviderName, utc_now
from schemas.health import ProviderState, ProviderStatus

STALE_AFTER_S = 30.0
NOT_REPORTED = (
    "not reported by the health service: not monitored (HEALTH_MONITORED_PROVIDERS) "
    "or not probed yet"
)


class ModelView(BaseModel):
    """One catalogue model of a provider, with its price and attempt timeout."""

    model_config = ConfigDict(extra="forbid")

    model: str
    live_web_search: bool
    deep_reasoning: bool
    context_window: int
    input_per_million_usd: float
    output_per_million_usd: float
    per_request_usd: float
    timeout_s: float


class ProviderView(BaseModel):
    """A provider's latest status; the status fields are absent before its first report."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    state: ProviderState | Literal["unknown"]
    emulated: bool
    models: list[ModelView]
    reason: str | None = None
    error_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    sample_size: int | None = None
    last_error: str | None = None
    last_probe_at: datetime | None = None
    updated_at: datetime | None = None
    age_s: float | None = None
    stale: bool | None = None


class ProvidersBody(BaseModel):
    """The body of GET /providers (the OpenAPI document is generated from it)."""

    model_config = ConfigDict(extra="forbid")

    providers: list[ProviderView]
    as_of: datetime
    status_error: str | None = None


def provider_view(
    *,
    catalogue: Catalogue,
    statuses: Mapping[str, ProviderStatus],
    emulated: Mapping[str, bool],
    status_error: str | None = None,
    show_errors: bool = True,
) -> dict[str, Any]:
    """The JSON body of GET /providers. Without `show_errors` (strategist keys) the raw
    provider error texts are left out: `last_error`, and a `reason` that quotes one, say
    only that there was an error."""
    now = utc_now()
    providers = []
    for name in dict.fromkeys([*catalogue.provider_names(), *sorted(statuses)]):
        status = statuses.get(name)
        entry: dict[str, Any] = {
            "provider": name,
            "state": status.state if status else "unknown",
            "emulated": emulated.get(name, False),
            "models": [
                {
                    "model": spec.model_id,
                    "live_web_search": spec.capabilities.live_web_search,
                    "deep_reasoning": spec.capabilities.deep_reasoning,
                    "context_window": spec.capabilities.context_window,
                    "input_per_million_usd": spec.pricing.input_per_million_usd,
                    "output_per_million_usd": spec.pricing.output_per_million_usd,
                    "per_request_usd": spec.pricing.per_request_usd,
                    "timeout_s": spec.timeout_s,
                }
                for spec in catalogue.for_provider(name)
            ],
        }
        if status is None and status_error is None:
            entry["reason"] = NOT_REPORTED
        if status is not None:
            age = max((now - status.occurred_at).total_seconds(), 0.0)
            entry.update(
                reason=status.reason if show_errors else _public_reason(status),
                error_rate=status.error_rate,
                latency_p50_ms=status.latency_p50_ms,
                latency_p95_ms=status.latency_p95_ms,
                sample_size=status.sample_size,
                last_error=status.last_error if show_errors else _redacted(status.last_error),
                last_probe_at=status.last_probe_at.isoformat() if status.last_probe_at else None,
                updated_at=status.occurred_at.isoformat(),
                age_s=round(age, 1),
                stale=age > STALE_AFTER_S,
            )
        providers.append(entry)
    body: dict[str, Any] = {"providers": providers, "as_of": now.isoformat()}
    if status_error is not None:
        body["status_error"] = status_error
    return body


REDACTED = "(provider error text shown to admin keys only)"


def _redacted(text: str | None) -> str | None:
    return None if text is None else REDACTED


def _public_reason(status: ProviderStatus) -> str:
    """The health service's reason, unless it quotes the raw error."""
    if status.last_error and status.last_error in status.reason:
        return status.reason.replace(status.last_error, REDACTED)
    return status.reason
