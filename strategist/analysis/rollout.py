"""Which requests take intelligent routing: the feature flag and the A/B rollout by campaign.

A campaign's bucket is a stable hash of its id, so a campaign stays on one path
as the percentage grows (bucket 7 is routed from 8 % upward) and every app
process, on every host, agrees without shared state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from strategist.settings import RoutingSettings

BUCKETS = 100
DEFAULT_CAMPAIGN = "default"
"""The bucket key for requests that name no campaign."""


def bucket(campaign_id: str | None) -> int:
    """0..99 from sha256 of the campaign id (stable across processes, unlike `hash()`)."""
    key = (campaign_id or DEFAULT_CAMPAIGN).encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % BUCKETS


@dataclass(frozen=True)
class RoutingDecision:
    routed: bool
    bucket: int
    reason: str
    """Plain-language why, used in the direct path's explanation."""


def rollout_decision(settings: RoutingSettings, campaign_id: str | None) -> RoutingDecision:
    """Routed when the flag is on and the campaign's bucket is under the rollout percentage."""
    slot = bucket(campaign_id)
    campaign = campaign_id or DEFAULT_CAMPAIGN
    if not settings.enabled:
        return RoutingDecision(False, slot, "Intelligent routing is switched off")
    if slot >= settings.rollout_percent:
        return RoutingDecision(
            False,
            slot,
            f"Intelligent routing is not rolled out to campaign {campaign!r} yet "
            f"(bucket {slot}, rollout {settings.rollout_percent}%)",
        )
    return RoutingDecision(True, slot, f"campaign {campaign!r} is in the rollout (bucket {slot})")
