"""The console on fakes: sign-in, the session's safety, CSRF, isolation, escaping.

The browser tests (tests/e2e/test_console_*.py) drive the same pages against the real
stack; these check the rules fast, without a network.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from pydantic import SecretStr

from strategist.console.records import id_at
from strategist.settings import ConsoleSettings
from tests.unit.strategist.conftest import FakedApp, Parts, keyring_of
from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_feedback import with_desk

Faked = Callable[..., FakedApp]
SECRET = "s" * 40
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _console(faked: Faked) -> tuple[FlaskClient, Parts]:
    client, parts = faked(console=ConsoleSettings(secret_key=SecretStr(SECRET)))
    browser = client.application.test_client()  # no Authorization header: a browser
    return browser, parts


def _token(browser: FlaskClient, path: str = "/console/login") -> str:
    found = TOKEN.search(browser.get(path).get_data(as_text=True))
    assert found, "the page carries a CSRF token"
    return found.group(1)


def _sign_in(browser: FlaskClient, key: str) -> None:
    reply = browser.post("/console/login", data={"api_key": key, "csrf_token": _token(browser)})
    assert reply.status_code == 302, reply.get_data(as_text=True)


def _key(browser: FlaskClient, campaign: str, role: str = "strategist") -> str:
    return keyring_of(browser.application).add(campaign, role=role)  # type: ignore[arg-type]


def test_pages_need_a_signed_in_key(faked: Faked) -> None:
    browser, _ = _console(faked)
    reply = browser.get("/console/history")
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/console/login?next=/console/history")


def test_sign_in_shows_the_campaign_and_sets_a_safe_cookie(faked: Faked) -> None:
    browser, _ = _console(faked)
    key = _key(browser, "alpha")
    reply = browser.post("/console/login", data={"api_key": key, "csrf_token": _token(browser)})
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Expires=" in cookie
    assert key not in cookie
    assert "alpha · strategist" in browser.get("/console/").get_data(as_text=True)


def test_cookie_is_secure_behind_tls(faked: Faked) -> None:
    browser, _ = _console(faked)
    key = _key(browser, "alpha")
    token = _token(browser)
    reply = browser.post("/console/login", data={"api_key": key, "csrf_token": token},
                         headers={"X-Forwarded-Proto": "https",
                                  "Referer": "https://localhost/console/login"},
                         base_url="https://localhost")
    assert "Secure" in reply.headers["Set-Cookie"]


@pytest.mark.parametrize("state", ["unknown", "revoked"])
def test_a_key_that_cannot_sign_in_is_told_why(faked: Faked, state: str) -> None:
    browser, _ = _console(faked)
    key = _key(browser, "alpha")
    if state == "revoked":
        keyring_of(browser.application).revoke(key)
    else:
        key = key[:-4] + "abcd"
    reply = browser.post("/console/login", data={"api_key": key, "csrf_token": _token(browser)})
    assert reply.status_code == 401
    assert ("not known" if state == "unknown" else "was revoked") in reply.get_data(as_text=True)


def test_a_revoked_keys_session_ends_at_its_next_request(faked: Faked) -> None:
    browser, _ = _console(faked)
    key = _key(browser, "alpha")
    _sign_in(browser, key)
    assert browser.get("/console/").status_code == 200
    keyring_of(browser.application).revoke(key)
    assert browser.get("/console/").status_code == 302


def test_a_post_without_a_csrf_token_is_refused(faked: Faked) -> None:
    browser, parts = _console(faked)
    _sign_in(browser, _key(browser, "alpha"))
    reply = browser.post("/console/ask", data={"query": "polls?"})
    assert reply.status_code == 400
    assert "Form refused" in reply.get_data(as_text=True)
    assert parts.publisher.published == []


def test_every_page_has_a_policy_without_inline_script(faked: Faked) -> None:
    browser, _ = _console(faked)
    reply = browser.get("/console/login")
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in reply.get_data(as_text=True)


def _ask(browser: FlaskClient, query: str) -> str:
    token = _token(browser, "/console/")
    reply = browser.post("/console/ask", data={"query": query, "csrf_token": token},
                         headers={"HX-Request": "true"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    found = re.search(r'data-analysis-id="([0-9a-f]{32})"', reply.get_data(as_text=True))
    assert found
    return found.group(1)


def test_model_output_is_shown_as_text_never_markup(faked: Faked) -> None:
    browser, parts = _console(faked)
    parts.publisher.on_publish = lambda q: parts.store.save(answered(q))
    _sign_in(browser, _key(browser, "alpha"))
    analysis_id = _ask(browser, "<script>alert(1)</script><img src=x onerror=alert(2)>")
    page = browser.get(f"/console/analyses/{analysis_id}/progress").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert 'data-testid="route"' in page and 'data-testid="feedback-correct"' in page


def test_another_campaigns_analysis_is_404(faked: Faked) -> None:
    browser, parts = _console(faked)
    parts.publisher.on_publish = lambda q: parts.store.save(answered(q))
    _sign_in(browser, _key(browser, "alpha"))
    analysis_id = _ask(browser, "turnout?")
    other = browser.application.test_client()
    _sign_in(other, _key(browser, "beta"))
    assert other.get(f"/console/analyses/{analysis_id}/progress").status_code == 404
    assert browser.get(f"/console/analyses/{analysis_id}/progress").status_code == 200


def test_admin_pages_refuse_a_strategist_key(faked: Faked) -> None:
    browser, _ = _console(faked)
    _sign_in(browser, _key(browser, "alpha"))
    for page in ("/console/keys", "/console/providers", "/console/spend", "/console/routing"):
        assert browser.get(page).status_code == 403, page


def test_without_a_secret_key_the_console_says_what_to_set(faked: Faked) -> None:
    client, _ = faked()
    reply = client.application.test_client().get("/console/login")
    assert reply.status_code == 503
    assert "STRATEGIST_CONSOLE__SECRET_KEY" in reply.get_data(as_text=True)


def test_sign_in_never_redirects_off_the_console(faked: Faked) -> None:
    browser, _ = _console(faked)
    key = _key(browser, "alpha")
    reply = browser.post("/console/login", data={"api_key": key, "csrf_token": _token(browser),
                                                 "next": "//evil.example/console/"})
    assert reply.headers["Location"] == "/console/"


def test_ids_of_a_later_moment_sort_after_earlier_ones() -> None:
    from datetime import UTC, datetime

    from strategist.analysis.ids import new_analysis_id

    moment = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    assert new_analysis_id(ms - 1) < id_at(moment) <= new_analysis_id(ms)


def test_feedback_is_published_and_acknowledged(faked: Faked) -> None:
    browser, parts = _console(faked)
    parts.publisher.on_publish = lambda q: parts.store.save(answered(q))
    _sign_in(browser, _key(browser, "alpha"))
    desk = with_desk(browser, parts)
    analysis_id = _ask(browser, "turnout?")
    token = _token(browser, "/console/")
    reply = browser.post(f"/console/analyses/{analysis_id}/feedback",
                         data={"rating": "partially_correct", "comment": "close",
                               "csrf_token": token})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert "recorded as partially correct" in reply.get_data(as_text=True)
    [given] = desk.given
    assert (given.analysis_id, given.rating, given.comment) == (
        analysis_id, "partially_correct", "close")


def test_an_htmx_request_gets_the_message_not_a_whole_page(faked: Faked) -> None:
    browser, _ = _console(faked)
    _sign_in(browser, _key(browser, "alpha"))
    reply = browser.get(f"/console/analyses/{'0' * 32}/progress", headers={"HX-Request": "true"})
    assert reply.status_code == 404
    body = reply.get_data(as_text=True)
    assert 'data-testid="problem"' in body and "<html" not in body
