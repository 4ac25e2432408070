"""The provider emulator in a thread of the test process, on a free port.

Cheaper than a subprocess (no interpreter start), and the same app and threaded
server as `python -m emulator`. For the emulator as a real process (to kill it,
or to share it with services under test) see `harness.emulator_process`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from emulator import create_app
from emulator.server import make_server

HOST = "127.0.0.1"


@contextlib.contextmanager
def running_emulator(latency_scale: float = 0.0) -> Iterator[str]:
    """Serve the emulator until the block ends; yields its base URL (`http://127.0.0.1:<port>`)."""
    server = make_server(create_app(latency_scale=latency_scale), HOST, 0)
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
