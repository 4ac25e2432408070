"""A service started before the broker waits for it, then consumes (no supervisor needed).

It used to exit with a traceback when its start-up topic check found no broker: a chaos
run restarted the scorer a few seconds before the broker went down, and every answer
after the broker came back was lost. Here the service starts against a bootstrap port
where nothing listens; a forwarder to the real broker opens on that port later.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from tests.integration.conftest import SERVICE_READY_TIMEOUT_S, ServiceFactory
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

FIRST_RETRY_TIMEOUT_S = 40.0
"""One failed topic check (the admin client's 15 s timeout) and its log line."""


class _Forward(socketserver.BaseRequestHandler):
    """Copies bytes both ways between the client and the real broker."""

    target: tuple[str, int]

    def handle(self) -> None:
        upstream = socket.create_connection(self.target)
        pump = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
        pump.start()
        _copy(self.request, upstream)
        pump.join(timeout=5)


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@contextmanager
def _forwarder(port: int, broker: str) -> Iterator[None]:
    host, broker_port = broker.rsplit(":", 1)
    handler = type("Forward", (_Forward,), {"target": (host, int(broker_port))})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_a_service_started_before_the_broker_waits_and_then_consumes(
    start_service: ServiceFactory, kafka_bootstrap: str
) -> None:
    port = free_port()
    classifier = start_service(
        "classifier", wait=False, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}"
    )
    classifier.wait_for_log("unreachable", FIRST_RETRY_TIMEOUT_S)
    assert classifier.alive()
    with _forwarder(port, kafka_bootstrap):
        classifier.wait_for_log(" assigned ", SERVICE_READY_TIMEOUT_S)
    assert classifier.alive()
