"""`python -m bench.openai_ttft` needs no running app: with no `--base-url` it starts its own
stack on the infrastructure `make bench` provides, so all it asks for is DATABASE_URL (where
it makes its key); a running app's URL still needs a key."""

from __future__ import annotations

import pytest

from bench import openai_ttft


def test_without_a_base_url_it_asks_only_for_the_infrastructure(monkeypatch, capsys) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("STRATEGIST_API_KEY", raising=False)
    with pytest.raises(SystemExit) as stopped:
        openai_ttft.main([])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "DATABASE_URL is not set" in error
    assert "give --api-key" not in error  # no key needed: it makes its own


def test_a_running_app_still_needs_a_key(monkeypatch, capsys) -> None:
    monkeypatch.delenv("STRATEGIST_API_KEY", raising=False)
    with pytest.raises(SystemExit):
        openai_ttft.main(["--base-url", "http://127.0.0.1:1/v1"])
    assert "give --api-key or set STRATEGIST_API_KEY" in capsys.readouterr().err
