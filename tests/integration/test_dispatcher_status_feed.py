"""The status feed survives a missing topic and recovers once it exists (real broker)."""

from __future__ import annotations

import time

from harness.processes import unique_namespace
from schemas.health import ProviderStatus
from schemas.topics import TopicNames, TopicSpec
from services.common.admin import create_topics
from services.dispatcher.status_view import ProviderStatusView, StatusFeed

RECOVERY_TIMEOUT_S = 45.0
"""The follower's backoff doubles up to 10 s; this only catches a feed that never recovers."""


def _wait_for(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_view_recovers_after_the_follower_failed_on_a_missing_topic(
    kafka_bootstrap, kafka_security, producer
) -> None:
    topic = TopicNames(unique_namespace()).provider_health  # not created yet
    view = ProviderStatusView(stale_after_s=20)
    feed = StatusFeed(
        view=view,
        bootstrap_servers=kafka_bootstrap,
        security=kafka_security,
        topic=topic,
        stale_after_s=20,
    )
    feed.start()
    try:
        assert _wait_for(lambda: feed.follower.failing, RECOVERY_TIMEOUT_S)
        assert feed.stale and feed.follower.failures >= 1

        create_topics(
            kafka_bootstrap,
            [TopicSpec(topic, 1, {"cleanup.policy": "compact"})],
            security=kafka_security,
        )
        down = ProviderStatus(provider="gemini", state="down", reason="test", error_rate=1.0)
        producer.send_and_wait(topic, "gemini", down, 10)

        assert _wait_for(lambda: view.is_down("gemini"), RECOVERY_TIMEOUT_S), (
            "the status view never recovered from the follower's failure"
        )
        assert not feed.follower.failing and not feed.stale
    finally:
        feed.stop()
