"""The feature flag and the percentage rollout by campaign."""

from __future__ import annotations

import hashlib

import pytest

from strategist.analysis.rollout import bucket, rollout_decision
from strategist.settings import RoutingSettings

CAMPAIGNS = [f"campaign-{i}" for i in range(20_000)]


def test_bucket_is_a_stable_sha256_of_the_campaign() -> None:
    expected = int.from_bytes(hashlib.sha256(b"az-senate-2026").digest()[:8], "big") % 100
    assert bucket("az-senate-2026") == expected
    assert bucket("az-senate-2026") == bucket("az-senate-2026")


def test_requests_without_a_campaign_share_the_default_bucket() -> None:
    assert bucket(None) == bucket("default")


def test_buckets_cover_the_whole_range_evenly() -> None:
    counts = [0] * 100
    for campaign in CAMPAIGNS:
        counts[bucket(campaign)] += 1
    assert all(count > 0 for count in counts)
    assert max(counts) < 2 * min(counts)


@pytest.mark.parametrize("percent", [0, 1, 10, 25, 50, 90, 100])
def test_rollout_percentage_is_honoured(percent: int) -> None:
    settings = RoutingSettings(rollout_percent=percent)
    routed = sum(rollout_decision(settings, c).routed for c in CAMPAIGNS)
    share = 100 * routed / len(CAMPAIGNS)
    assert abs(share - percent) < 1.5, share
    if percent in (0, 100):
        assert share == percent


def test_growing_the_rollout_never_drops_a_routed_campaign() -> None:
    for campaign in CAMPAIGNS[:2000]:
        routed_at = [
            rollout_decision(RoutingSettings(rollout_percent=p), campaign).routed
            for p in range(101)
        ]
        first = routed_at.index(True) if True in routed_at else 101
        assert routed_at == [p >= first for p in range(101)]


def test_flag_off_routes_nothing_whatever_the_percentage() -> None:
    settings = RoutingSettings(enabled=False, rollout_percent=100)
    decisions = [rollout_decision(settings, c) for c in CAMPAIGNS[:500]]
    assert not any(d.routed for d in decisions)
    assert "switched off" in decisions[0].reason


def test_the_decision_explains_itself() -> None:
    campaign = next(c for c in CAMPAIGNS if bucket(c) >= 30)
    decision = rollout_decision(RoutingSettings(rollout_percent=30), campaign)
    assert not decision.routed
    assert campaign in decision.reason and "30%" in decision.reason
    assert str(decision.bucket) in decision.reason
