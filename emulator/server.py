"""A threaded WSGI server for the emulator: one thread per connection, deep accept queue.

Hanging and slow requests each hold only their own thread, so hundreds of calls
can be in flight at once without one blocking another.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer

ACCEPT_BACKLOG = 1024
"""Pending connections the kernel queues for us (werkzeug's default is 128)."""


class EmulatorServer(ThreadedWSGIServer):
    request_queue_size = ACCEPT_BACKLOG
    daemon_threads = True


def make_server(app: Flask, host: str, port: int) -> EmulatorServer:
    """Bind now (port 0 picks a free one; read `server.server_port`); call serve_forever()."""
    return EmulatorServer(host, port, app)
