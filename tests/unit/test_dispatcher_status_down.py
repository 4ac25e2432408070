"""The status view says when a status turns a provider down, once per outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.health import ProviderStatus
from services.dispatcher.status_view import ProviderStatusView

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _status(state: str, at: datetime = NOW) -> ProviderStatus:
    return ProviderStatus(provider="gemini", state=state, reason="test", error_rate=0.0,
                          occurred_at=at)


def test_turning_down_is_reported_once_not_on_every_heartbeat() -> None:
    view = ProviderStatusView(stale_after_s=20, clock=lambda: NOW)
    assert view.update(_status("healthy"), offset=1) is False
    assert view.update(_status("down"), offset=2) is True
    assert view.update(_status("down"), offset=3) is False  # a heartbeat of the same outage
    assert view.update(_status("healthy"), offset=4) is False
    assert view.update(_status("down"), offset=5) is True  # a new outage


def test_an_older_down_replayed_out_of_order_is_not_a_new_outage() -> None:
    view = ProviderStatusView(stale_after_s=20, clock=lambda: NOW)
    view.update(_status("healthy"), offset=9)
    assert view.update(_status("down"), offset=3) is False


def test_a_stale_down_replayed_at_start_up_is_not_reported() -> None:
    view = ProviderStatusView(stale_after_s=20, clock=lambda: NOW)
    assert view.update(_status("down", NOW - timedelta(minutes=5)), offset=1) is False
