"""A service started before the broker waits for it, then consumes (no supervisor needed).

It used to exit with a traceback when its start-up topic check found no broker: a chaos
run restarted the scorer a few seconds before the broker went down, and every answer
after the broker came back was lost. Here the service starts against a bootstrap port
where nothing listens; a forwarder to the real broker opens on that port later.
"""

from __future__ import annotations

import pytest

from harness.processes import free_port
from tests.integration.conftest import SERVICE_READY_TIMEOUT_S, ServiceFactory
from tests.support.forwarder import forwarder

pytestmark = pytest.mark.integration

FIRST_RETRY_TIMEOUT_S = 40.0
"""One failed topic check (the admin client's 15 s timeout) and its log line."""


def test_a_service_started_before_the_broker_waits_and_then_consumes(
    start_service: ServiceFactory, kafka_bootstrap: str
) -> None:
    port = free_port()
    classifier = start_service(
        "classifier", wait=False, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}"
    )
    classifier.wait_for_log("unreachable", FIRST_RETRY_TIMEOUT_S)
    assert classifier.alive()
    with forwarder(port, kafka_bootstrap):
        classifier.wait_for_log(" assigned ", SERVICE_READY_TIMEOUT_S)
    assert classifier.alive()
