"""A do-nothing OTLP/HTTP endpoint for `python -m bench --trace-export`.

The stack's processes export their spans here, so the benchmark measures what
exporting costs them (building, batching, encoding and sending spans) without a tracing
backend's own CPU in the figures: the sink runs in the benchmark's process, counted as
the load generator, and answers every `POST /v1/traces` with an empty success.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.processes import free_port


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real collector serves it
    received = 0

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Sink.received += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def running_trace_sink() -> Iterator[str]:
    """The sink's base URL (for OTEL_EXPORTER_OTLP_ENDPOINT) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="trace-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        print(f"[bench] trace sink: {_Sink.received} OTLP exports received", flush=True)
