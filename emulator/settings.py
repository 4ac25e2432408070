"""Emulator settings (`EMULATOR_HOST`, `EMULATOR_PORT`, `EMULATOR_LATENCY_SCALE`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


class EmulatorSettings(BaseSettings):
    """Where the emulator listens and how fast it answers.

    `latency_scale` multiplies every model's artificial latency: 1.0 is realistic,
    0 answers at once (benchmarks). The `slow` fault mode ignores it on purpose.
    """

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    latency_scale: float = Field(default=1.0, ge=0.0)
