"""API keys at the door: 401 / 403 / 429, campaigns kept apart, admins see all, the keyless mode.

On fakes (an in-memory keyring and limiter; see conftest): the key check, the campaign a
query runs for, who reads which analysis, and what provider errors a key is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from schemas.base import utc_now
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from strategist.settings import AuthSettings
from tests.unit.strategist.conftest import (
    FakedApp,
    Parts,
    client_with_key,
    keyring_of,
    limiter_of,
)
from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_openapi import out_of_budget

API = "/api/v1/strategist"
Faked = Callable[..., FakedApp]
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


def _answering(parts: Parts) -> None:
    parts.publisher.on_publish = lambda query: parts.store.save(answered(query))


def _key_client(client: FlaskClient, campaign: str, **options: object) -> FlaskClient:
    key = keyring_of(client.application).add(campaign, **options)  # type: ignore[arg-type]
    return client_with_key(client.application, key)


def _analysis_of(client: FlaskClient, parts: Parts, campaign: str) -> str:
    """A finished analysis created with a key of `campaign`."""
    _answering(parts)
    reply = _key_client(client, campaign).post(f"{API}/analyze", json={"query": "polls?"})
    assert reply.status_code == 200, reply.get_json()
    analysis_id: str = reply.get_json()["analysis_id"]
    return analysis_id


@pytest.mark.parametrize(
    "path", [f"{API}/analyze", f"{API}/analyses", f"{API}/providers", f"{API}/usage",
             f"{API}/analyses/{UNKNOWN_ID}", "/api/v1/openapi.json", "/api/v1/no-such-route"]
)
def test_every_api_route_without_a_key_is_401_with_a_bearer_challenge(
    faked: Faked, path: str
) -> None:
    client, parts = faked()
    anonymous = client_with_key(client.application, None)
    reply = anonymous.post(path, json={"query": "q"}) if "analy" in path and path.endswith(
        ("analyze", "analyses")
    ) else anonymous.get(path)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.get_json()["error"]["code"] == "unauthorized"
    assert parts.publisher.published == []


def test_health_probes_need_no_key(faked: Faked) -> None:
    client, _parts = faked()
    anonymous = client_with_key(client.application, None)
    assert anonymous.get("/healthz").status_code == 200
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["auth_mode"] == "required"


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer csk_not-a-known-key-at-all-000000"]
)
def test_a_malformed_or_unknown_key_is_401(faked: Faked, header: str) -> None:
    client, _parts = faked()
    reply = client.get(f"{API}/providers", headers={"Authorization": header})
    assert reply.status_code == 401
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    assert reply.get_json()["error"]["code"] == "invalid_key"


@pytest.mark.parametrize(("change", "code"), [("revoke", "key_revoked"), ("expire", "key_expired")])
def test_a_revoked_or_expired_key_is_403(faked: Faked, change: str, code: str) -> None:
    client, _parts = faked()
    keyring = keyring_of(client.application)
    key = keyring.add("az")
    getattr(keyring, change)(key)
    reply = client_with_key(client.application, key).get(f"{API}/providers")
    assert reply.status_code == 403
    assert reply.get_json()["error"]["code"] == code


def test_over_the_rate_is_429_with_retry_after_and_publishes_nothing(faked: Faked) -> None:
    client, parts = faked()
    keyring = keyring_of(client.application)
    key = keyring.add("az", rate_per_minute=30, key_id="key_az")
    limiter_of(client.application).wait_s["key_az"] = 2
    reply = client_with_key(client.application, key).post(f"{API}/analyze", json={"query": "q"})
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "2"
    assert reply.get_json()["error"]["code"] == "rate_limited"
    assert ("key_az", 30) in limiter_of(client.application).taken
    assert parts.publisher.published == []


def test_the_key_store_down_is_503_not_401(faked: Faked) -> None:
    client, _parts = faked()
    keyring_of(client.application).down = True
    reply = client.get(f"{API}/providers")
    assert reply.status_code == 503
    assert reply.get_json()["error"]["code"] == "key_store_unavailable"


def test_a_query_runs_for_the_keys_campaign(faked: Faked) -> None:
    client, parts = faked()
    _answering(parts)
    az = _key_client(client, "az")
    assert az.post(f"{API}/analyze", json={"query": "q"}).status_code == 200
    assert az.post(f"{API}/analyses", json={"query": "q", "campaign_id": "az"}).status_code == 202
    assert [q.campaign_id for q in parts.publisher.published] == ["az", "az"]


def test_naming_another_campaign_is_403_and_publishes_nothing(faked: Faked) -> None:
    client, parts = faked()
    reply = _key_client(client, "az").post(
        f"{API}/analyze", json={"query": "q", "campaign_id": "nv"}
    )
    assert reply.status_code == 403
    assert reply.get_json()["error"] == {
        "code": "campaign_forbidden",
        "message": reply.get_json()["error"]["message"],
        "field": "campaign_id",
    }
    assert parts.publisher.published == []


def test_another_campaigns_analysis_is_404_exactly_as_an_unknown_id(faked: Faked) -> None:
    client, parts = faked()
    analysis_id = _analysis_of(client, parts, "az")
    nv = _key_client(client, "nv")
    theirs = nv.get(f"{API}/analyses/{analysis_id}")
    unknown = nv.get(f"{API}/analyses/{analysis_id[:-1]}0")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json()["error"]["code"] == unknown.get_json()["error"]["code"]
    assert theirs.get_json()["error"]["message"].replace(analysis_id, "ID") == unknown.get_json()[
        "error"
    ]["message"].replace(analysis_id[:-1] + "0", "ID")
    feedback = nv.post(f"{API}/analyses/{analysis_id}/feedback", json={"rating": "correct"})
    assert feedback.status_code == 404
    assert _key_client(client, "az").get(f"{API}/analyses/{analysis_id}").status_code == 200


def test_a_pending_analysis_of_another_campaign_is_404_too(faked: Faked) -> None:
    client, parts = faked()
    accepted = _key_client(client, "az").post(f"{API}/analyses", json={"query": "q"})
    status_url = accepted.get_json()["status_url"]
    assert _key_client(client, "az").get(status_url).status_code == 202
    assert _key_client(client, "nv").get(status_url).status_code == 404


def test_an_admin_key_reads_every_campaign(faked: Faked) -> None:
    client, parts = faked()  # the fixture's client holds an admin key
    ids = [_analysis_of(client, parts, campaign) for campaign in ("az", "nv", "pa")]
    for analysis_id in ids:
        assert client.get(f"{API}/analyses/{analysis_id}").status_code == 200


def test_budget_exhausted_is_402_on_analyze_and_on_get(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = lambda query: parts.store.save(out_of_budget(query))
    az = _key_client(client, "az")
    reply = az.post(f"{API}/analyze", json={"query": "q"})
    assert reply.status_code == 402
    assert reply.get_json()["error"].startswith("budget_exhausted")
    assert az.get(f"{API}/analyses/{reply.get_json()['analysis_id']}").status_code == 402


def test_provider_error_texts_are_for_admins_only(faked: Faked) -> None:
    client, parts = faked()
    secret_text = "403 PERMISSION_DENIED project 12345 billing account closed"
    parts.store.statuses["gemini"] = ProviderStatus(
        provider="gemini",
        state="down",
        reason="3 consecutive probe failures (last: auth)",
        error_rate=1.0,
        sample_size=3,
        consecutive_probe_failures=3,
        last_error=secret_text,
        last_probe_at=utc_now(),
    )
    shown = _key_client(client, "az").get(f"{API}/providers").get_data(as_text=True)
    assert secret_text not in shown
    assert secret_text in client.get(f"{API}/providers").get_data(as_text=True)


def test_keyless_mode_serves_requests_without_a_key_as_before(
    faked: Faked, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        client, parts = faked(auth=AuthSettings(mode="legacy"))
    assert "STRATEGIST_AUTH__MODE=legacy" in caplog.text
    _answering(parts)
    anonymous = client_with_key(client.application, None)
    reply = anonymous.post(f"{API}/analyze", json={"query": "q", "campaign_id": "nv"})
    assert reply.status_code == 200
    assert parts.publisher.published[-1].campaign_id == "nv"
    assert anonymous.get(f"{API}/analyses/{reply.get_json()['analysis_id']}").status_code == 200
    assert anonymous.get("/readyz").get_json()["auth_mode"] == "legacy"
    bad = anonymous.get(f"{API}/providers", headers={"Authorization": "Bearer csk_unknown-0000"})
    assert bad.status_code == 401  # a key that is sent is checked in every mode


def test_in_keyless_mode_an_analysis_made_with_a_key_needs_a_key_of_its_campaign(
    faked: Faked,
) -> None:
    client, parts = faked(auth=AuthSettings(mode="legacy"))
    analysis_id = _analysis_of(client, parts, "az")
    anonymous = client_with_key(client.application, None)
    assert anonymous.get(f"{API}/analyses/{analysis_id}").status_code == 404
    assert _key_client(client, "nv").get(f"{API}/analyses/{analysis_id}").status_code == 404
    assert _key_client(client, "az").get(f"{API}/analyses/{analysis_id}").status_code == 200
    # ... also when only the responses topic still knows it (Redis lost it)
    parts.archive.answers[analysis_id] = parts.store.results.pop(analysis_id)
    assert anonymous.get(f"{API}/analyses/{analysis_id}").status_code == 404


def test_a_used_key_is_noted(faked: Faked) -> None:
    client, _parts = faked()
    keyring = keyring_of(client.application)
    key = keyring.add("az", key_id="key_used")
    client_with_key(client.application, key).get(f"{API}/providers")
    assert "key_used" in keyring.used_ids


def test_a_query_made_with_a_key_carries_its_campaign_in_the_event(faked: Faked) -> None:
    client, parts = faked()
    _key_client(client, "az").post(f"{API}/analyses", json={"query": "q"})
    [query] = parts.publisher.published
    assert isinstance(query, QueryRequested) and query.campaign_id == "az"
