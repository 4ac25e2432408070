"""The demo says, per routine kind, which model serves it on this machine and why."""

from __future__ import annotations

import pytest

from demo.routine_policy import routine_policy_table


def test_every_kind_is_listed_with_its_measured_rate_and_model() -> None:
    table = routine_policy_table()
    assert "translation                 0% (0/10)       gemini-2.5-flash" in table
    assert "slogans                     33% (3/9)       gemini-2.5-flash" in table
    assert "SmolLM2-135M-Instruct.Q4_1.gguf is too weak" in table


def test_a_missing_file_is_said_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CLASSIFIER_CAPABILITY_PATH", str(tmp_path / "none.json"))
    assert "routine policy unavailable" in routine_policy_table()
