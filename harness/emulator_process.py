"""The provider emulator as a real process, with its control API for fault injection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from harness.processes import ManagedProcess, free_port, infra_env, python_module

READY_TIMEOUT_S = 30.0


class EmulatorControl:
    """Drive `PUT /_control/providers/<provider>` and read request counters."""

    def __init__(self, base_url: str, log_path: Path | None = None) -> None:
        self.base_url = base_url
        self.log_path = log_path
        """The emulator process's log (the leak test reads it)."""

    def set_mode(self, provider: str, mode: str, **options: float) -> None:
        """Set a fault mode; `options` are the mode's settings (`retry_after_s`, `delay_s`,
        `after_chunks`: see emulator/faults.py)."""
        response = httpx.put(
            f"{self.base_url}/_control/providers/{provider}",
            json={"mode": mode, **options},
            timeout=5,
        )
        response.raise_for_status()

    def set_latency(self, scale: float) -> None:
        """The latency scale from now on (1.0: real providers' timing; see emulator/control.py)."""
        response = httpx.put(
            f"{self.base_url}/_control/latency", json={"scale": scale}, timeout=5
        )
        response.raise_for_status()

    def latency(self) -> float:
        return float(httpx.get(f"{self.base_url}/_control/latency", timeout=5).json()["scale"])

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/_control/reset", timeout=5).raise_for_status()

    def state(self) -> dict:
        return httpx.get(f"{self.base_url}/_control/providers", timeout=5).json()


@contextlib.contextmanager
def running_emulator(latency_scale: float = 0.0) -> Iterator[EmulatorControl]:
    port = free_port()
    process: ManagedProcess = python_module(
        "emulator",
        "emulator",
        infra_env("unused", EMULATOR_LATENCY_SCALE=str(latency_scale)),
        "--port",
        str(port),
    )
    base_url = f"http://127.0.0.1:{port}"
    process.start()
    try:
        process.wait_until(
            lambda: httpx.get(f"{base_url}/_control/providers", timeout=1).status_code == 200,
            READY_TIMEOUT_S,
            "control API",
        )
        yield EmulatorControl(base_url, process.log_path)
    finally:
        process.stop()
