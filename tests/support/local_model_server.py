"""The local model server (`python -m providers.local_server`) as a subprocess for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from harness.processes import ManagedProcess, free_port, infra_env, python_module

LOAD_TIMEOUT_S = 120.0
"""First start may assemble the Gemma GGUF from its PyPI chunks before loading it."""


@contextlib.contextmanager
def running_local_model_server(timeout_s: float = LOAD_TIMEOUT_S, **env: str) -> Iterator[str]:
    """Start the server on a free port, wait until /v1/models answers, yield `http://.../v1`.

    Extra keyword arguments become environment variables (e.g. LOCAL_MODEL_PATH).
    """
    port = free_port()
    process = python_module(
        "local-model",
        "providers.local_server",
        infra_env("unused", LOCAL_MODEL_HOST="127.0.0.1", LOCAL_MODEL_PORT=str(port), **env),
    )
    with _served(process, port, timeout_s) as base_url:
        yield base_url


@contextlib.contextmanager
def running_stock_llama_server(
    model: Path, *, logits_all: bool, timeout_s: float = LOAD_TIMEOUT_S
) -> Iterator[str]:
    """llama-cpp-python's own server (`python -m llama_cpp.server`), untouched by us: the
    reference our log-probabilities are checked against."""
    port = free_port()
    process = python_module(
        "stock-llama-server",
        "llama_cpp.server",
        infra_env("unused"),
        "--model", str(model),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--verbose", "False",
        "--logits_all", str(logits_all),
    )  # fmt: skip
    with _served(process, port, timeout_s) as base_url:
        yield base_url


@contextlib.contextmanager
def _served(process: ManagedProcess, port: int, timeout_s: float) -> Iterator[str]:
    base_url = f"http://127.0.0.1:{port}/v1"
    process.start()
    try:
        process.wait_until(
            lambda: httpx.get(f"{base_url}/models", timeout=2).status_code == 200,
            timeout_s,
            "GET /v1/models",
        )
        yield base_url
    finally:
        process.stop()
