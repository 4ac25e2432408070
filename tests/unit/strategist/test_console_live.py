"""The console's live answer on fakes: the stream a session reads, its isolation, the
facts fragment that follows `done`, and the query asking for live text."""

from __future__ import annotations

import re
from typing import Any

from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_console import TOKEN, _ask, _console, _key, _sign_in
from tests.unit.strategist.test_event_stream import _deltas, parse

API = "/api/v1/strategist"


def _asked_and_streamed(faked: Any) -> tuple[Any, Any, str]:
    """A signed-in browser, the fakes, and an analysis whose deltas and answer are in."""
    browser, parts = _console(faked)
    _sign_in(browser, _key(browser, "alpha"))
    analysis_id = _ask(browser, "turnout?")
    for delta in _deltas(analysis_id, ["answer ", "to ", "turnout?"]):
        parts.deltas.add(delta)
    parts.store.save(answered(parts.publisher.published[-1]))
    return browser, parts, analysis_id


def test_the_ask_panel_reads_the_stream_from_a_static_script(faked: Any) -> None:
    browser, parts = _console(faked)
    _sign_in(browser, _key(browser, "alpha"))
    page = browser.get("/console/").get_data(as_text=True)
    assert "/console/static/console/ask.js" in page and "<script>" not in page
    token = TOKEN.search(page)
    assert token
    panel = browser.post("/console/ask", data={"query": "turnout?", "csrf_token": token.group(1)},
                         headers={"HX-Request": "true"}).get_data(as_text=True)
    found = re.search(r'data-events="/console/analyses/([0-9a-f]{32})/events"', panel)
    assert found and "<script" not in panel
    analysis_id = found.group(1)
    [query] = parts.publisher.published
    assert query.query_id == analysis_id
    assert query.options.stream_mode == "live"  # the page takes back what a failover discards


def test_a_signed_in_session_reads_the_analysis_stream_and_done_is_the_answer(
    faked: Any,
) -> None:
    browser, _parts, analysis_id = _asked_and_streamed(faked)
    reply = browser.get(f"/console/analyses/{analysis_id}/events")
    assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
    events = parse(reply.get_data(as_text=True))
    names = [name for _i, name, _d in events]
    assert names[0] == "routing" and names[-1] == "done"
    done = events[-1][2]
    assert "".join(d["text"] for _i, n, d in events if n == "delta") == done["result"]
    rest = parse(browser.get(f"/console/analyses/{analysis_id}/events",
                             headers={"Last-Event-ID": "3"}).get_data(as_text=True))
    assert rest == events[3:]


def test_another_campaigns_stream_and_facts_are_404(faked: Any) -> None:
    browser, _parts, analysis_id = _asked_and_streamed(faked)
    other = browser.application.test_client()
    _sign_in(other, _key(browser, "beta"))
    assert other.get(f"/console/analyses/{analysis_id}/events").status_code == 404
    assert other.get(f"/console/analyses/{analysis_id}/facts").status_code == 404
    signed_out = browser.application.test_client()
    reply = signed_out.get(f"/console/analyses/{analysis_id}/events")
    assert reply.status_code == 302 and "/console/login" in reply.headers["Location"]


def test_facts_come_once_the_answer_is_there(faked: Any) -> None:
    browser, parts = _console(faked)
    _sign_in(browser, _key(browser, "alpha"))
    analysis_id = _ask(browser, "turnout?")
    pending = browser.get(f"/console/analyses/{analysis_id}/facts")
    assert pending.status_code == 409 and "still running" in pending.get_data(as_text=True)
    parts.store.save(answered(parts.publisher.published[-1]))
    facts = browser.get(f"/console/analyses/{analysis_id}/facts").get_data(as_text=True)
    for hook in ("route", "cost", "confidence", "feedback-correct"):
        assert f'data-testid="{hook}"' in facts
    assert 'data-testid="answer"' not in facts  # the streamed text stays as it was written


def test_without_script_the_question_lands_on_the_analysis_page(faked: Any) -> None:
    browser, parts = _console(faked)
    parts.publisher.on_publish = lambda q: parts.store.save(answered(q))
    _sign_in(browser, _key(browser, "alpha"))
    token = TOKEN.search(browser.get("/console/").get_data(as_text=True))
    assert token
    reply = browser.post("/console/ask", data={"query": "turnout?", "csrf_token": token.group(1)})
    assert reply.status_code == 302
    page = browser.get(reply.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="answer"' in page and 'data-testid="route"' in page
