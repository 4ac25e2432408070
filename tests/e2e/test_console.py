"""The console in a real browser (Debian's Chromium) against the whole stack.

One stack (the four services, the recorder, the app) and one browser session for the
module; the tests run in order, as a person would: sign in, ask and watch the answer
arrive, give feedback, try to inject script, filter the history, open a trail, look at
another campaign's analysis, then as an admin: providers (Gemini going down live),
spend, routing, keys (create, revoke, the revoked key's session ends). Every page is
checked with axe-core (no serious or critical violations). With
`CONSOLE_SCREENSHOTS=<dir>` (`make screenshots`) each page is saved there as a PNG.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from sqlalchemy import delete, select

from services.common.database import make_engine, sqlalchemy_url
from services.common.tables import (
    Analysis,
    ApiKey,
    ConfidenceScore,
    Feedback,
    ProviderAttemptRecord,
    RoutingDecision,
)
from strategist.auth.keys import IssuedKey, KeyStore
from tests.e2e.stack import Stack, StackFactory
from tests.support import browser as b

pytestmark = pytest.mark.e2e

CAMPAIGN = "console-e2e"
PROBE = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>"
DOWN_WITHIN_S = 20.0
"""Generous on a shared 2-core machine; the figure measured is printed."""
PRO_MODEL = "gemini-2.5-pro"
COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
SLOW_STREAM_SCALE = 2.0
"""The emulator's latency scale while the answer streams: Gemini 2.5 Pro writes for a few
seconds, as a person would watch it."""
CUT_AFTER_CHUNKS = 4
WATCH_ANSWER = """
window.__answerSeen = [];
var result = document.querySelector('[data-testid="result"]');
new MutationObserver(function () {
  var text = result.querySelector('[data-testid="answer"]');
  if (!text) { return; }
  window.__answerSeen.push({text: text.textContent, at: performance.now(),
                            done: !!result.querySelector('[data-testid="route"]')});
}).observe(result, {childList: true, subtree: true, characterData: true});
"""
"""Records every state of the answer's text as the page shows it (run through WebDriver,
which the page's CSP does not govern, as axe is)."""


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    missing = b.available()
    if missing:  # make test installs it (scripts/setup.sh); CI must not skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    started: list[Stack] = []
    try:
        with stack_factory(extra_services=("recorder",)) as running:
            started.append(running)
            yield running
    finally:  # once the recorder has stopped writing
        for done in started:
            _delete_rows(done)


def _delete_rows(stack: Stack) -> None:
    """The decision records and API keys of this module's campaigns (all named after the
    stack's namespace)."""
    campaigns = f"{stack.namespace}-%"
    engine = make_engine(sqlalchemy_url(stack.database_url), pool_size=1)
    try:
        with engine.begin() as connection:
            ids = select(Analysis.analysis_id).where(Analysis.campaign_id.like(campaigns))
            for table in (Feedback, ConfidenceScore, ProviderAttemptRecord, RoutingDecision):
                connection.execute(delete(table).where(table.analysis_id.in_(ids)))
            connection.execute(delete(Analysis).where(Analysis.campaign_id.like(campaigns)))
            connection.execute(delete(ApiKey).where(ApiKey.campaign_id.like(campaigns)))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def driver(stack: Stack) -> Iterator[webdriver.Chrome]:
    with b.chromium() as session:
        yield session


@pytest.fixture(scope="module")
def strategist_key(stack: Stack) -> IssuedKey:
    return stack.key_for(f"{stack.namespace}-{CAMPAIGN}")


@pytest.fixture(scope="module")
def asked(stack: Stack) -> dict[str, str]:
    return {}


def _url(stack: Stack, path: str = "") -> str:
    return f"{stack.app.base_url}/console/{path}"


def _check_page(driver: webdriver.Chrome, name: str) -> None:
    """No serious accessibility problem, no script error; a screenshot when asked."""
    assert b.axe_violations(driver) == [], name
    errors = b.console_errors(driver)
    assert errors == [], errors
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        (Path(folder) / "phone").mkdir(parents=True, exist_ok=True)
        b.screenshot(driver, Path(folder) / f"{name}.png")
        b.screenshot(driver, Path(folder) / "phone" / f"{name}.png", width=b.PHONE[0])


def _sign_in(driver: webdriver.Chrome, stack: Stack, key: str) -> None:
    driver.get(_url(stack, "login"))
    field = b.find(driver, "api-key")
    field.clear()
    field.send_keys(key)
    b.find(driver, "sign-in").click()
    b.wait_for(lambda: b.find_all(driver, "signed-in-as"), message="signed in")


def _sign_out(driver: webdriver.Chrome) -> None:
    b.find(driver, "sign-out").click()
    b.wait_for(lambda: b.find_all(driver, "login-form"), message="signed out")


def test_sign_in_refuses_a_wrong_key_and_accepts_a_right_one(
    driver: webdriver.Chrome, stack: Stack, strategist_key: IssuedKey
) -> None:
    driver.get(_url(stack))
    b.wait_for(lambda: b.find_all(driver, "login-form"), message="sent to sign in")
    _check_page(driver, "login")
    b.find(driver, "api-key").send_keys("csk_" + "x" * 43)
    b.find(driver, "sign-in").click()
    assert "not known" in b.wait_for(lambda: b.find(driver, "login-error")).text
    b.console_errors(driver)  # the 401 of that attempt was expected
    _sign_in(driver, stack, strategist_key.key)
    assert b.find(driver, "signed-in-as").text == f"{strategist_key.campaign_id} · strategist"
    driver.set_window_size(*b.PHONE)
    try:
        assert b.fits(driver), "the ask page scrolls sideways at phone width"
    finally:
        driver.set_window_size(*b.WINDOW)


def test_ask_watch_the_answer_arrive_and_give_feedback(
    driver: webdriver.Chrome, stack: Stack, asked: dict[str, str]
) -> None:
    driver.get(_url(stack))
    b.find(driver, "query").send_keys("Draft a short thank-you note to our volunteers")
    Select(b.find(driver, "prefer")).select_by_value("cost")
    b.find(driver, "ask").click()
    assert b.wait_for(lambda: b.find_all(driver, "stage"), 10, "stages shown")
    b.wait_for(lambda: b.find_all(driver, "route"), 90, "the answer and its route")
    answer = b.find(driver, "answer")
    assert answer.text.strip()
    route = b.find(driver, "route").text
    answered_by = b.find(driver, "route-model").text
    assert "Answered by" in route and "/" in answered_by
    notes = b.find_all(driver, "local-model-note")  # the weak local model is said, never hidden
    assert len(notes) == (1 if answered_by.startswith("local/") else 0)
    assert all("very weak" in note.text for note in notes)
    assert "estimated on Gemini 2.5 Pro" in b.find(driver, "cost").text
    assert b.find(driver, "confidence").text.startswith("Confidence")
    asked["id"] = b.find(driver, "answer-panel").get_attribute("data-analysis-id") or ""
    _check_page(driver, "ask")
    b.find(driver, "feedback-comment").send_keys("warm and short")
    b.find(driver, "feedback-partially-correct").click()
    given = b.wait_for(lambda: b.find(driver, "feedback-given"), message="feedback taken")
    assert "partially correct" in given.text


def test_the_answer_streams_in_and_a_failover_takes_back_the_text_shown(
    driver: webdriver.Chrome, stack: Stack
) -> None:
    """A slow-streaming Gemini 2.5 Pro answer cut after a few chunks: its text shows
    before the answer is done, the failover's `restart` takes it back, and the text left
    is exactly the JSON answer."""
    driver.get(_url(stack))
    b.find(driver, "query").send_keys(COMPLEX)
    Select(b.find(driver, "prefer")).select_by_value("quality")
    driver.execute_script(WATCH_ANSWER)
    emulator = stack.emulator
    latency = f"{emulator.base_url}/_control/latency"
    scale = httpx.get(latency, timeout=5).json()["scale"]
    httpx.put(latency, json={"scale": SLOW_STREAM_SCALE}, timeout=5).raise_for_status()
    emulator.set_mode("gemini", "cut", after_chunks=CUT_AFTER_CHUNKS)
    try:
        b.find(driver, "ask").click()
        b.wait_for(lambda: b.find_all(driver, "route"), 90, "the answer and its route")
    finally:
        emulator.reset()
        httpx.put(latency, json={"scale": scale}, timeout=5).raise_for_status()
    seen: list[dict[str, Any]] = driver.execute_script("return window.__answerSeen")
    analysis_id = b.find(driver, "answer-panel").get_attribute("data-analysis-id")
    body = stack.app.client.get(f"/api/v1/strategist/analyses/{analysis_id}").json()
    shown = driver.execute_script("return arguments[0].textContent", b.find(driver, "answer"))
    assert body["status"] == "completed" and shown == body["result"]
    assert any(s["text"] and not s["done"] and s["text"] != shown for s in seen), \
        "no partial answer was visible before the answer was done"
    taken_back = [i for i, s in enumerate(seen) if i and seen[i - 1]["text"] and not s["text"]]
    assert taken_back, "the text of the cut attempt was never taken back"
    assert int(b.find(driver, "answer").get_attribute("data-restarts") or 0) >= 1
    lines = [stage.text for stage in b.find_all(driver, "stage")]
    assert any("failed (stream_truncated)" in line for line in lines), lines
    first = next(s["at"] for s in seen if s["text"])
    print(f"first words shown {(seen[-1]['at'] - first) / 1000:.1f}s before the answer was done")
    _check_page(driver, "ask-streamed")


def test_script_in_a_question_is_shown_as_text_and_never_runs(
    driver: webdriver.Chrome, stack: Stack, asked: dict[str, str]
) -> None:
    driver.get(_url(stack))
    b.find(driver, "query").send_keys(f"Summarise {PROBE} for the field team")
    Select(b.find(driver, "prefer")).select_by_value("quality")  # an emulated model echoes it
    b.find(driver, "ask").click()
    b.wait_for(lambda: b.find_all(driver, "route"), 90, "the answer and its route")
    answer = b.find(driver, "answer")
    time.sleep(1.0)  # anything injected would have run by now
    assert driver.execute_script("return window.__pwned === undefined")
    assert not driver.find_elements("css selector", ".answer-panel img, .answer-panel script")
    assert "<script>" in answer.text or "onerror" in answer.text, answer.text  # shown as text
    asked["probe_text"] = answer.text


def test_history_filters_and_opens_the_trail(
    driver: webdriver.Chrome, stack: Stack, asked: dict[str, str]
) -> None:
    driver.get(_url(stack, "history"))
    rows = b.wait_for(lambda: _rows_after_reload(driver, 3), 30, "three analyses recorded")
    assert len(rows) == 3
    _check_page(driver, "history")
    b.find(driver, "filter-text").send_keys("volunteers")
    b.find(driver, "filter-apply").click()
    b.wait_for(  # read inside the wait: htmx may swap the rows while they are read
        lambda: _row_ids(driver) == [asked["id"]], message="filtered to the one analysis"
    )
    Select(b.find(driver, "filter-status")).select_by_value("failed")
    b.wait_for(lambda: b.find_all(driver, "history-empty"), message="no failed analyses")
    driver.get(_url(stack, f"analyses/{asked['id']}"))
    labels = b.wait_for(lambda: _event_texts_after_reload(driver), 30, "the trail recorded")
    assert any("Query submitted" in t for t in labels)
    assert any("Attempt 1" in t for t in labels)
    b.wait_for(
        lambda: int(b.find(driver, "timeline-chart").get_attribute("data-drawn") or 0)
        == len(labels),
        10,
        "every trail event drawn on the timeline",
    )
    _check_page(driver, "analysis")


def _rows_after_reload(driver: webdriver.Chrome, n: int) -> list[WebElement] | None:
    rows = b.find_all(driver, "history-row")
    if len(rows) >= n:
        return rows
    driver.refresh()
    return None


def _row_ids(driver: webdriver.Chrome) -> list[str | None]:
    return [row.get_attribute("data-analysis-id") for row in b.find_all(driver, "history-row")]


def _event_texts_after_reload(driver: webdriver.Chrome) -> list[str] | None:
    texts = [event.text for event in b.find_all(driver, "timeline-event")]
    if any("Attempt" in t for t in texts) and any("Answer" in t for t in texts):
        return texts
    driver.refresh()
    return None


def test_another_campaigns_analysis_is_not_found(
    driver: webdriver.Chrome, stack: Stack, asked: dict[str, str]
) -> None:
    _sign_out(driver)
    other = stack.key_for(f"{stack.namespace}-other")
    _sign_in(driver, stack, other.key)
    driver.get(_url(stack, f"analyses/{asked['id']}"))
    assert "another campaign" in b.find(driver, "error-message").text
    b.console_errors(driver)  # that 404 was expected
    driver.get(_url(stack, "history"))
    assert b.find_all(driver, "history-empty")


def test_a_form_post_without_its_csrf_token_is_refused(stack: Stack) -> None:
    with httpx.Client(base_url=stack.app.base_url) as client:
        client.get("/console/login")
        reply = client.post("/console/login", data={"api_key": stack.app.key.key})
    assert reply.status_code == 400
    assert "Form refused" in reply.text


def test_providers_page_shows_gemini_go_down_without_a_reload(
    driver: webdriver.Chrome, stack: Stack
) -> None:
    _sign_out(driver)
    _sign_in(driver, stack, stack.app.key.key)
    driver.get(_url(stack, "providers"))
    b.wait_for(lambda: b.find(driver, "stream-state").text == "live", 15, "stream open")
    assert b.find(driver, "provider-status-gemini").text == "healthy"
    _check_page(driver, "providers")
    stack.emulator.set_mode("gemini", "down")
    started = time.monotonic()
    try:
        b.wait_for(  # found anew each time: a live update may replace the row
            lambda: b.find(driver, "provider-status-gemini").text == "down",
            DOWN_WITHIN_S,
            "gemini shown down",
        )
        print(f"gemini shown down {time.monotonic() - started:.1f}s after the emulator")
        # health is not the circuit: no call failed, so the dispatcher's breakers stay closed
        assert _circuit(driver, "gemini", PRO_MODEL) == "closed"
    finally:
        stack.emulator.set_mode("gemini", "ok")
    b.wait_for(
        lambda: b.find(driver, "provider-status-gemini").text == "healthy",
        DOWN_WITHIN_S,
        "gemini back",
    )


def test_providers_page_shows_a_dispatchers_circuit_open_and_close_again(
    driver: webdriver.Chrome, stack: Stack
) -> None:
    """Two calls to Gemini 2.5 Pro cut before their first chunk (the health probe still
    answers) open the dispatcher's circuit on that model; the page shows it without a
    reload, and closed again once a call gets through."""
    driver.get(_url(stack, "providers"))
    b.wait_for(lambda: b.find(driver, "stream-state").text == "live", 15, "stream open")
    assert _circuit(driver, "gemini", PRO_MODEL) == "closed"
    pinned = {"options": {"model": PRO_MODEL}}
    stack.emulator.set_mode("gemini", "cut", after_chunks=0)
    try:
        for _ in range(2):
            assert stack.app.analyze("Draft a turnout plan", **pinned).status_code == 200
        answered = time.monotonic()
        b.wait_for(lambda: _circuit(driver, "gemini", PRO_MODEL) in ("open", "half-open"),
                   DOWN_WITHIN_S, "the circuit shown open")
        print(f"circuit shown open {time.monotonic() - answered:.1f}s after the second answer")
    finally:
        stack.emulator.reset()
    b.wait_for(lambda: stack.app.analyze("Draft a turnout plan", **pinned).json()
               ["routing"]["model"] == PRO_MODEL, 30, "a call through to Gemini 2.5 Pro")
    b.wait_for(lambda: _circuit(driver, "gemini", PRO_MODEL) == "closed", DOWN_WITHIN_S,
               "the circuit shown closed")


def _circuit(driver: webdriver.Chrome, provider: str, model: str) -> str | None:
    return b.find(driver, f"circuit-{provider}-{model}").get_attribute("data-circuit")


def test_spend_and_routing_pages_draw_their_charts(
    driver: webdriver.Chrome, stack: Stack
) -> None:
    driver.get(_url(stack, "spend"))
    assert "estimated for the same answers on Gemini 2.5 Pro" in b.find(
        driver, "saving-summary").text
    chart = b.find(driver, "savings-chart")
    b.wait_for(lambda: chart.get_attribute("data-drawn") not in (None, "", "0", "error"),
               15, "savings drawn")
    _check_page(driver, "spend")
    driver.get(_url(stack, "routing"))
    tiers = b.find(driver, "tier-chart")
    b.wait_for(lambda: tiers.get_attribute("data-drawn") not in (None, "", "0", "error"),
               15, "tiers drawn")
    _check_page(driver, "routing")


def test_keys_create_revoke_and_the_revoked_session_ends(
    driver: webdriver.Chrome, stack: Stack
) -> None:
    campaign = f"{stack.namespace}-made-in-console"
    first, _ = _create_key(driver, stack, campaign)
    row = _key_row(driver, first)
    row.find_element(*b.testid("key-revoke")).click()
    assert "Revoked" in b.wait_for(lambda: b.find(driver, "key-revoked")).text
    assert _key_row(driver, first).find_element(*b.testid("key-state")).text == "revoked"
    _, new_key = _create_key(driver, stack, campaign)
    _check_page(driver, "keys")
    _sign_out(driver)
    _sign_in(driver, stack, new_key)
    assert campaign in b.find(driver, "signed-in-as").text
    store = KeyStore(database_url=stack.database_url, pool_size=1)
    try:
        [record] = [k for k in store.all() if k.campaign_id == campaign and not k.revoked_at]
        store.revoke(record.key_id)  # as another admin would, elsewhere
    finally:
        store.close()
    revoked_at = time.monotonic()
    b.wait_for(lambda: _sent_to_sign_in(driver, stack), 15, "the revoked key's session ended")
    print(f"revoked session ended {time.monotonic() - revoked_at:.1f}s after the revocation")


def _sent_to_sign_in(driver: webdriver.Chrome, stack: Stack) -> bool:
    driver.get(_url(stack, "history"))
    return bool(b.find_all(driver, "login-form"))


def _create_key(driver: webdriver.Chrome, stack: Stack, campaign: str) -> tuple[str, str]:
    """(key id, key) of a key made on the Keys page."""
    driver.get(_url(stack, "keys"))
    b.find(driver, "key-campaign").send_keys(campaign)
    b.find(driver, "key-create").click()
    key = b.wait_for(lambda: b.find(driver, "new-key")).get_attribute("value") or ""
    assert key.startswith("csk_")
    return b.find(driver, "key-created").get_attribute("data-key-id") or "", key


def _key_row(driver: webdriver.Chrome, key_id: str) -> WebElement:
    return next(r for r in b.find_all(driver, "key-row")
                if r.get_attribute("data-key-id") == key_id)
