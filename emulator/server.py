"""A threaded WSGI server for the emulator: one thread per connection, deep accept queue,
HTTP/1.1 keep-alive.

Hanging and slow requests each hold only their own thread, so hundreds of calls
can be in flight at once without one blocking another.

Keep-alive because real providers keep connections open: werkzeug's server closes
every connection (`Connection: close`), so each SDK call would pay a TCP set-up and
leave a socket in TIME_WAIT, thousands per benchmark run, a cost production never has.
werkzeug closes because, after a response, it drains whatever the client sent that the
app did not read, which on a kept-alive connection could be the next request. Here the
request body is read whole before the app runs, and the drain finds nothing of it left.
A request whose body cannot be read ahead (chunked, or larger than the app accepts)
is served as before, on a connection that closes.
"""

from __future__ import annotations

import io

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

ACCEPT_BACKLOG = 1024
"""Pending connections the kernel queues for us (werkzeug's default is 128)."""
KEEP_ALIVE_IDLE_S = 30.0
"""An idle kept-alive connection is closed after this (clients drop theirs sooner:
httpx after 5 s), so an abandoned connection does not hold a thread for ever."""
MAX_READ_AHEAD_BYTES = 8 * 1024 * 1024
"""Largest body read ahead; the app refuses larger ones anyway (emulator.app)."""


class KeepAliveRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, keeping the connection open between requests when it can."""

    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_IDLE_S
    disable_nagle_algorithm = True
    """Each streamed event leaves when written, as from a provider's front end. With Nagle's
    algorithm a small write waits for the client's delayed ACK, about 40 ms, which the
    benchmark then counted as pipeline overhead (the emulator's service time had ended)."""
    _keep_alive = False

    def run_wsgi(self) -> None:
        body = self._read_ahead()
        self._keep_alive = body is not None and not self.close_connection
        if body is None:
            super().run_wsgi()
            return
        connection_reader = self.rfile
        self.rfile = io.BytesIO(body)  # type: ignore[assignment]  # the app's wsgi.input
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection_reader

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._keep_alive:
            return  # werkzeug's unconditional close; the client's own close still applies
        super().send_header(keyword, value)

    def _read_ahead(self) -> bytes | None:
        """The whole request body, or None when it cannot be read ahead."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_READ_AHEAD_BYTES:
            return None
        return self.rfile.read(length) if length else b""


class EmulatorServer(ThreadedWSGIServer):
    request_queue_size = ACCEPT_BACKLOG
    daemon_threads = True


def make_server(app: Flask, host: str, port: int) -> EmulatorServer:
    """Bind now (port 0 picks a free one; read `server.server_port`); call serve_forever()."""
    return EmulatorServer(host, port, app, handler=KeepAliveRequestHandler)
