"""The stream mode each caller's query carries (`options.stream_mode`), on fakes: the mode
asked, or STRATEGIST_STREAM_MODE, for a caller who may read the stream; `buffered` for a
JSON caller, whose answer is exactly as before; a bad mode is a 4xx naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_openai_endpoint import CHAT, MESSAGES, _events, with_openai

API = "/api/v1/strategist"
SSE = {"Accept": "text/event-stream"}


def _answering(faked: Any, **settings: object) -> tuple[Any, Any]:
    client, parts = faked(**settings)
    with_openai(client.application)
    parts.publisher.on_publish = lambda query: parts.store.save(answered(query))
    return client, parts


def _mode(parts: Any) -> str | None:
    [query] = parts.publisher.published
    return query.options.stream_mode  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "asked, default, expected",
    [("live", "auto", "live"), (None, "auto", "auto"), (None, "live", "live"),
     ("buffered", "live", "buffered")],
)
@pytest.mark.parametrize("path, headers", [("/analyses", {}), ("/analyses", SSE),
                                           ("/analyze", SSE)])
def test_a_caller_who_may_read_the_stream_runs_in_the_mode_asked_or_the_default(
    faked: Any, path: str, headers: dict[str, str], asked: str | None, default: str,
    expected: str,
) -> None:
    client, parts = _answering(faked, stream_mode=default)
    body: dict[str, Any] = {"query": "q"}
    if asked:
        body["options"] = {"stream_mode": asked}
    reply = client.post(f"{API}{path}", json=body, headers=headers)
    assert reply.status_code in (200, 202)
    assert _mode(parts) == expected


@pytest.mark.parametrize("asked", [None, "live", "auto"])
def test_a_json_analyze_runs_buffered_and_answers_exactly_as_before(
    faked: Any, asked: str | None
) -> None:
    client, parts = _answering(faked, stream_mode="live")
    body: dict[str, Any] = {"query": "q"}
    if asked:
        body["options"] = {"stream_mode": asked}
    reply = client.post(f"{API}/analyze", json=body)
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    assert _mode(parts) == "buffered"
    shown = reply.get_json()
    assert shown == client.get(f"{API}/analyses/{shown['analysis_id']}").get_json()
    assert shown["result"] == "answer to q" and "stream_mode" not in str(shown)


@pytest.mark.parametrize("path", ["/analyze", "/analyses"])
@pytest.mark.parametrize("bad", ["fast", "", 1, None])
def test_a_bad_stream_mode_is_422_naming_the_field_and_nothing_runs(
    faked: Any, path: str, bad: object
) -> None:
    client, parts = _answering(faked)
    options = {"stream_mode": bad}
    reply = client.post(f"{API}{path}", json={"query": "q", "options": options})
    if bad is None:  # null: the app's default
        assert reply.status_code in (200, 202)
        return
    assert reply.status_code == 422
    error = reply.get_json()["error"]
    assert error["field"] == "options.stream_mode" and "live" in error["message"]
    assert parts.publisher.published == []


def test_a_chat_without_stream_runs_buffered(faked: Any) -> None:
    client, parts = _answering(faked, stream_mode="live")
    body = {"model": "auto", "messages": MESSAGES, "x_stream_mode": "live"}
    reply = client.post(CHAT, json=body)
    assert reply.status_code == 200 and reply.get_json()["object"] == "chat.completion"
    assert _mode(parts) == "buffered"


@pytest.mark.parametrize(
    "asked, default, expected",
    [("live", "auto", "live"), (None, "auto", "auto"), (None, "buffered", "buffered"),
     ("buffered", "auto", "buffered"), ("auto", "buffered", "auto")],
)
def test_a_streamed_chat_runs_in_x_stream_mode_or_the_default(
    faked: Any, asked: str | None, default: str, expected: str
) -> None:
    client, parts = _answering(faked, stream_mode=default)
    body: dict[str, Any] = {"model": "auto", "messages": MESSAGES, "stream": True}
    if asked:
        body["x_stream_mode"] = asked
    events = _events(client.post(CHAT, json=body).get_data(as_text=True))
    assert events[-1] == "[DONE]" and _mode(parts) == expected
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1]
                   if e["choices"])  # fmt: skip
    assert text == "answer to " + MESSAGES[-1]["content"]
    assert {e["model"] for e in events[:-1]} == {"sonar"}  # the model that answered


def test_a_bad_x_stream_mode_is_400_naming_it(faked: Any) -> None:
    client, parts = _answering(faked)
    body = {"model": "auto", "messages": MESSAGES, "stream": True, "x_stream_mode": "fast"}
    reply = client.post(CHAT, json=body)
    assert reply.status_code == 400
    assert reply.get_json()["error"]["param"] == "x_stream_mode"
    assert parts.publisher.published == []
