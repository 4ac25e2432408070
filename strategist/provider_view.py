"""The providers health view: latest status per provider, with its catalogue models.

The health service keeps the newest ProviderStatus per provider in a Redis hash;
a provider it has not reported on yet shows as "unknown", and a status older
than `STALE_AFTER_S` (several missed heartbeats) is flagged stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.catalogue import Catalogue
from schemas.base import PROVIDER_NAMES, utc_now
from schemas.health import ProviderStatus

STALE_AFTER_S = 30.0


def provider_view(
    *,
    catalogue: Catalogue,
    statuses: Mapping[str, ProviderStatus],
    emulated: Mapping[str, bool],
    status_error: str | None = None,
) -> dict[str, Any]:
    """The JSON body of GET /providers."""
    now = utc_now()
    providers = []
    for name in PROVIDER_NAMES:
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
        if status is not None:
            age = max((now - status.occurred_at).total_seconds(), 0.0)
            entry.update(
                reason=status.reason,
                error_rate=status.error_rate,
                latency_p50_ms=status.latency_p50_ms,
                latency_p95_ms=status.latency_p95_ms,
                sample_size=status.sample_size,
                last_error=status.last_error,
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
