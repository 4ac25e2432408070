"""A stand-in for the llama.cpp server's chat endpoint, for tests that need many local answers.

The real local model answers one query at a time on the CPU (seconds each); a test
that sends hundreds of queries to it would measure the machine, not the dispatcher.
This server speaks the same OpenAI-compatible `/v1/chat/completions` the local
provider calls (prompt format `chat`), answers at once, and refuses (HTTP 500) any
question containing `REFUSE_MARKER`, so a test can make the local model fail on purpose.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUSE_MARKER = "[local model refuses]"
ANSWER = "Local draft: keep the message short and grounded in the crosstabs."


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        asked = json.dumps(body.get("messages", []))
        if REFUSE_MARKER in asked:
            self._reply(500, {"error": {"message": "model failed", "type": "server_error"}})
            return
        self._reply(
            200,
            {
                "id": "local-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "local"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": ANSWER},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
            },
        )

    def do_GET(self) -> None:  # noqa: N802
        self._reply(200, {"object": "list", "data": [{"id": "fake.gguf", "object": "model"}]})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return None


@contextlib.contextmanager
def fake_local_model() -> Iterator[str]:
    """Serve on a free loopback port; yields the base URL for LOCAL_MODEL_URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
