"""GET /providers lists every provider the catalogue has (a declared one too), and says
why one shows no status: the health service does not report on it."""

from __future__ import annotations

from providers.catalogue import Catalogue
from schemas.base import PROVIDER_NAMES
from schemas.health import ProviderStatus
from strategist.provider_view import NOT_REPORTED, ProvidersBody, provider_view

DECLARED = {
    "providers": [{"name": "acme", "base_url": "https://llm.acme.test/v1",
                   "api_key_env": "ACME_KEY"}],
    "models": [
        {"provider": "acme", "model_id": "acme-chat", "capabilities": {"context_window": 32000},
         "pricing": {"input_per_million_usd": 0.2, "output_per_million_usd": 0.6,
                     "source": "example"}},
        {"provider": "gemini", "model_id": "gemini-2.5-flash",
         "capabilities": {"context_window": 1048576},
         "pricing": {"input_per_million_usd": 0.3, "output_per_million_usd": 2.5,
                     "source": "example"}},
    ],
}  # fmt: skip
GEMINI_UP = ProviderStatus(provider="gemini", state="healthy", reason="ok", error_rate=0.0)


def test_a_declared_provider_is_listed_with_its_models_and_why_it_has_no_status() -> None:
    body = provider_view(
        catalogue=Catalogue.model_validate(DECLARED), statuses={"gemini": GEMINI_UP},
        emulated={},
    )  # fmt: skip
    ProvidersBody.model_validate(body)  # the documented shape
    by_name = {p["provider"]: p for p in body["providers"]}
    assert list(by_name) == [*PROVIDER_NAMES, "acme"]
    assert [m["model"] for m in by_name["acme"]["models"]] == ["acme-chat"]
    assert (by_name["acme"]["state"], by_name["acme"]["reason"]) == ("unknown", NOT_REPORTED)
    assert "HEALTH_MONITORED_PROVIDERS" in NOT_REPORTED
    assert (by_name["gemini"]["state"], by_name["gemini"]["reason"]) == ("healthy", "ok")


def test_a_provider_the_health_service_reports_is_listed_even_if_the_catalogue_lacks_it() -> None:
    together = ProviderStatus(provider="together", state="down", reason="probe failed",
                              error_rate=1.0)  # fmt: skip
    body = provider_view(
        catalogue=Catalogue.model_validate(DECLARED),
        statuses={"gemini": GEMINI_UP, "together": together}, emulated={},
    )  # fmt: skip
    by_name = {p["provider"]: p for p in body["providers"]}
    assert (by_name["together"]["state"], by_name["together"]["models"]) == ("down", [])


def test_without_the_status_store_no_reason_is_guessed() -> None:
    body = provider_view(
        catalogue=Catalogue.model_validate(DECLARED), statuses={}, emulated={},
        status_error="provider status store (Redis) unreachable",
    )  # fmt: skip
    assert {p["state"] for p in body["providers"]} == {"unknown"}
    assert all("reason" not in p for p in body["providers"])
