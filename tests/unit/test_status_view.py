"""The dispatcher's provider-status view: broker order wins over clocks, staleness shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.health import ProviderStatus
from services.common.kafka_security import KafkaSecurity
from services.dispatcher.status_view import ProviderStatusView, StatusFeed

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _status(state: str, at: datetime) -> ProviderStatus:
    return ProviderStatus(provider="gemini", state=state, reason="test", error_rate=0.0,
                          occurred_at=at)


def test_a_status_written_later_wins_even_if_an_earlier_one_is_stamped_in_the_future() -> None:
    view = ProviderStatusView(stale_after_s=20, clock=lambda: NOW)
    skewed = _status("down", NOW + timedelta(hours=1))  # a health host with a fast clock
    view.update(skewed, offset=7)
    view.update(_status("healthy", NOW), offset=8)
    assert not view.is_down("gemini")
    assert view.status("gemini").state == "healthy"


def test_an_older_offset_replayed_does_not_replace_the_latest() -> None:
    view = ProviderStatusView(stale_after_s=20, clock=lambda: NOW)
    view.update(_status("down", NOW), offset=9)
    view.update(_status("healthy", NOW), offset=3)  # the follower restarted from the beginning
    assert view.is_down("gemini")


def test_a_future_stamp_does_not_keep_a_status_fresh_for_ever() -> None:
    now = [NOW]
    view = ProviderStatusView(stale_after_s=20, clock=lambda: now[0])
    view.update(_status("down", NOW + timedelta(hours=1)), offset=1)
    assert view.is_down("gemini")
    now[0] = NOW + timedelta(seconds=21)  # the monitor died right after
    assert view.status("gemini") is None and not view.is_down("gemini")


def test_stale_statuses_are_ignored() -> None:
    view = ProviderStatusView(stale_after_s=20, clock=lambda: NOW)
    view.update(_status("down", NOW - timedelta(seconds=30)), offset=1)
    assert not view.is_down("gemini")


def test_the_feed_decodes_records_and_skips_malformed_ones() -> None:
    view = ProviderStatusView(stale_after_s=20)
    feed = StatusFeed(view=view, bootstrap_servers="127.0.0.1:1", security=KafkaSecurity(),
                      topic="t", stale_after_s=20)
    feed._on_record(b"gemini", b"not json", 0, 1)
    feed._on_record(b"gemini", _status("down", datetime.now(UTC)).to_bytes(), 0, 2)
    assert view.is_down("gemini")


def test_the_feed_is_stale_before_any_status_arrives_within_its_window() -> None:
    feed = StatusFeed(view=ProviderStatusView(stale_after_s=0.0), bootstrap_servers="127.0.0.1:1",
                      security=KafkaSecurity(), topic="t", stale_after_s=0.0)
    assert feed.stale and feed.report()
