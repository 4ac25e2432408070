"""The app refuses real provider keys next to the emulator, unless each key names where
it goes (`GEMINI_BASE_URL` / `PERPLEXITY_BASE_URL`): then EMULATOR_URL does not decide
where the key is sent, and there is nothing to refuse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from strategist.settings import StrategistSettings

EMULATOR = "http://127.0.0.1:8090"
GEMINI_KEY = "AIzaSyREFUSALCANARY0123456789abcdefgh"
PERPLEXITY_KEY = "pplx-REFUSALCANARY0123456789abcdefgh"


@pytest.fixture
def keys_next_to_the_emulator(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("EMULATOR_URL", EMULATOR)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.setenv("PERPLEXITY_API_KEY", PERPLEXITY_KEY)
    for name in ("GEMINI_BASE_URL", "PERPLEXITY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_keys_next_to_the_emulator_are_refused_by_name_only(
    keys_next_to_the_emulator: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError) as caught:
        StrategistSettings()
    message = str(caught.value)
    assert "GEMINI_API_KEY" in message and "PERPLEXITY_API_KEY" in message
    assert GEMINI_KEY not in message and PERPLEXITY_KEY not in message


def test_keys_with_their_own_base_urls_may_run_next_to_the_emulator(
    keys_next_to_the_emulator: pytest.MonkeyPatch,
) -> None:
    keys_next_to_the_emulator.setenv("GEMINI_BASE_URL", EMULATOR)
    keys_next_to_the_emulator.setenv("PERPLEXITY_BASE_URL", EMULATOR)
    providers = StrategistSettings().providers
    assert providers.gemini_base_url == providers.perplexity_base_url == EMULATOR


def test_a_key_without_its_own_base_url_is_still_refused(
    keys_next_to_the_emulator: pytest.MonkeyPatch,
) -> None:
    keys_next_to_the_emulator.setenv("GEMINI_BASE_URL", "https://llm-proxy.campaign.example")
    with pytest.raises(ValidationError) as caught:
        StrategistSettings()
    message = str(caught.value)
    assert "PERPLEXITY_API_KEY" in message and "GEMINI_API_KEY" not in message
