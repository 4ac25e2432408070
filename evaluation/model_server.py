"""A local model server for one evaluation run: started on a free port, stopped after.

The evaluations that measure a local model for real (`evaluation.local_models`,
`evaluation.routine`, `evaluation.local_logprob_cost`, `evaluation.graded_answers`) each
serve a GGUF file on a port of their own; this is the one way they start the server,
wait until it answers `/v1/models`, and stop it, with the server's log tail in the error
when it does not come up.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVER_LOAD_TIMEOUT_S = 180.0
"""Gemma may be assembled from its PyPI chunks (and hashed) before it loads."""
SERVER_POLL_S = 0.5
SERVER_STOP_TIMEOUT_S = 10.0
LOG_TAIL_CHARS = 2000
PORT = "{port}"
"""Written in a server's arguments where its port goes."""


@dataclass(frozen=True)
class ServedModel:
    """A running server: its OpenAI-compatible base URL and its process (for CPU, memory)."""

    base_url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(
    args: Sequence[str], *, env: Mapping[str, str | None] | None = None
) -> Iterator[ServedModel]:
    """`python ARGS` on a free port (`PORT` in ARGS, and `LOCAL_MODEL_PORT`) until it answers.

    `env` adds to this process's environment; a None value removes a variable.
    Raises RuntimeError with the server's log tail when it does not come up in time.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    child_env = {**os.environ, "LOCAL_MODEL_HOST": "127.0.0.1", "LOCAL_MODEL_PORT": str(port)}
    for name, value in (env or {}).items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    command = [sys.executable, *(arg.replace(PORT, str(port)) for arg in args)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_served(process, base_url, log)
            yield ServedModel(base_url, process)
        finally:
            process.terminate()
            try:
                process.wait(SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_served(process: subprocess.Popen[bytes], base_url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + SERVER_LOAD_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        time.sleep(SERVER_POLL_S)
    log.seek(0)
    tail = log.read().decode(errors="replace")[-LOG_TAIL_CHARS:]
    raise RuntimeError(f"local model server at {base_url} did not come up:\n{tail}")
