"""A TCP forwarder that opens on a port later: a server that 'comes back' in a test."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


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
def forwarder(port: int, target: str) -> Iterator[None]:
    host, target_port = target.rsplit(":", 1)
    handler = type("Forward", (_Forward,), {"target": (host, int(target_port))})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
