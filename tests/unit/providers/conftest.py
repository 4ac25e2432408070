"""Provider-client tests run the real SDKs against the emulator served in-process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.processes import free_port
from providers.settings import ProviderSettings
from tests.support.emulator_server import running_emulator

FAKE_GEMINI_KEY = "AIzaSyFAKEKEY0123456789abcdefghijklmnop"
FAKE_PERPLEXITY_KEY = "pplx-FAKEKEY0123456789abcdefghijklmnop"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts a real model server (up to ~2 min)")


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with running_emulator(latency_scale=0.0) as url:
        yield url


@pytest.fixture
def emulator(emulator_url: str) -> Iterator[str]:
    """The shared emulator, reset after the test (which also releases hanging requests)."""
    yield emulator_url
    httpx.post(f"{emulator_url}/_control/reset", timeout=5).raise_for_status()


@pytest.fixture
def set_mode(emulator: str):
    def set_(provider: str, mode: str) -> None:
        httpx.put(
            f"{emulator}/_control/providers/{provider}", json={"mode": mode}, timeout=5
        ).raise_for_status()

    return set_


@pytest.fixture
def settings(emulator: str) -> ProviderSettings:
    """No keys: every hosted provider goes to the emulator; the local model is unreachable."""
    return ProviderSettings(
        gemini_api_key=None,
        perplexity_api_key=None,
        emulator_url=emulator,
        local_model_url=f"http://127.0.0.1:{free_port()}/v1",
        local_model_path=None,
    )


class KeyedEmulatorSettings(ProviderSettings):
    """Real-looking keys but still the emulator: to check keys never leak into errors."""

    @property
    def gemini_base_url(self) -> str:
        return self.emulator_url

    @property
    def perplexity_base_url(self) -> str:
        return self.emulator_url


@pytest.fixture
def keyed_settings(emulator: str) -> ProviderSettings:
    return KeyedEmulatorSettings(
        gemini_api_key=FAKE_GEMINI_KEY,
        perplexity_api_key=FAKE_PERPLEXITY_KEY,
        emulator_url=emulator,
    )
