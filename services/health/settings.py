"""Health monitor settings (`HEALTH_*`), with the shared infrastructure and provider settings.

The defaults meet the detection goal: a provider that stops answering fails two
probes one second apart (each bounded by a one-second timeout), so `down` is
published within about three seconds, well inside the dispatcher's five.
"""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.settings import ProviderSettings
from schemas.base import PROVIDER_NAMES, ProviderName
from services.common.settings import InfraSettings
from services.health.handler import Thresholds

BILLED_PROBE_PROVIDERS: frozenset[str] = frozenset({"perplexity"})
"""Providers whose probe is a billed call with a real key: Perplexity has no free endpoint,
so its probe is a one-token completion with a per-request fee (see providers/perplexity.py)."""


class HealthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTH_", extra="ignore")

    monitored_providers: list[ProviderName] = Field(
        default_factory=lambda: list(PROVIDER_NAMES),
        description="Providers to probe and report on (JSON list).")
    probe_interval_s: float = Field(default=1.0, gt=0, description="Time between probe starts.")
    probe_timeout_s: float = Field(default=1.0, gt=0, description="Bound on one probe.")
    probe_timeout_overrides: dict[str, float] = Field(
        default_factory=lambda: {"local": 10.0},
        description="Per-provider probe bounds (JSON). llama.cpp's server answers a probe only "
        "between generations, so a busy local model is slow to answer, not down.")
    billed_probe_interval_s: float = Field(
        default=60.0, gt=0,
        description="Probe interval for a real (not emulated) provider whose probe is billed: "
                    "once a second would cost Perplexity users about $430 a day. Between "
                    "probes, the attempt events carry the signal.")
    heartbeat_s: float = Field(
        default=5.0, gt=0,
        description="Every status is republished this often, so readers can tell a live "
                    "monitor from a dead one (keep well under DISPATCHER_HEALTH_STALE_AFTER_S).")
    down_after_failures: int = Field(default=2, ge=1,
                                     description="Consecutive probe failures that mean down.")
    recover_after_successes: int = Field(
        default=2, ge=1, description="Consecutive successful probes before a state improves.")
    window_size: int = Field(default=50, ge=1, description="Attempts kept per provider.")
    window_s: float = Field(default=60.0, gt=0, description="Attempts older than this age out.")
    min_samples: int = Field(
        default=5, ge=1, description="Attempts in the window before traffic rules apply.")
    degraded_error_rate: float = Field(default=0.2, gt=0, le=1)
    down_error_rate: float = Field(default=0.8, gt=0, le=1)
    degraded_latency_p95_ms: float = Field(
        default=4000.0, gt=0,
        description="Attempt p95 above this is degraded (near the dispatcher's 4.5 s cap).")
    latency_p95_ms_overrides: dict[str, float] = Field(
        default_factory=lambda: {"local": 30_000.0},
        description="Per-provider p95 limits (JSON); the local model runs on our CPU.")
    degraded_probe_p95_ms: float = Field(default=750.0, gt=0)
    rate_limit_hold_s: float = Field(
        default=10.0, ge=0,
        description="A 429 in real traffic keeps a provider degraded this long.")
    max_in_flight: int = Field(default=64, ge=1, description="Attempt events handled at once.")
    instance_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", min_length=1,
        description="Names this instance in the statuses it publishes (`publisher`).")
    infra: InfraSettings = Field(default_factory=InfraSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)

    def probe_interval_for(self, provider: str, *, emulated: bool) -> float:
        """How often to probe `provider`: slower where each probe costs money."""
        if provider in BILLED_PROBE_PROVIDERS and not emulated:
            return max(self.probe_interval_s, self.billed_probe_interval_s)
        return self.probe_interval_s

    def probe_timeout_for(self, provider: str) -> float:
        return self.probe_timeout_overrides.get(provider, self.probe_timeout_s)

    def thresholds(self) -> Thresholds:
        return Thresholds(
            down_after_failures=self.down_after_failures,
            recover_after_successes=self.recover_after_successes,
            window_size=self.window_size,
            window_s=self.window_s,
            min_samples=self.min_samples,
            degraded_error_rate=self.degraded_error_rate,
            down_error_rate=self.down_error_rate,
            degraded_latency_p95_ms=self.degraded_latency_p95_ms,
            latency_p95_ms_overrides=dict(self.latency_p95_ms_overrides),
            degraded_probe_p95_ms=self.degraded_probe_p95_ms,
            rate_limit_hold_s=self.rate_limit_hold_s,
        )
