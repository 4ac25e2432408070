"""`/v1/chat/completions` streaming live (x_stream_mode "live", and "auto", the default), on
fakes: chunks as the deltas come, the finish chunk with x_routing, and an error, never
[DONE], after a cut."""

from __future__ import annotations

from typing import Any

from schemas.delta import AnswerDelta
from schemas.query import QueryRequested
from tests.unit.strategist.fakes import answered
from tests.unit.strategist.test_event_stream import _deltas
from tests.unit.strategist.test_openai_endpoint import CHAT, MESSAGES, _events

LIVE = {"model": "auto", "messages": MESSAGES, "stream": True, "x_stream_mode": "live",
        "stream_options": {"include_usage": True}}


def _on_publish(parts: Any, deltas: list[AnswerDelta], *, result: str | None = None) -> None:
    def publish(query: QueryRequested) -> None:
        for delta in deltas:
            parts.deltas.add(delta.model_copy(update={"analysis_id": query.query_id}))
        response = answered(query)
        if result is not None:
            response = response.model_copy(update={"result": result})
        parts.store.save(response)

    parts.publisher.on_publish = publish


def test_live_chunks_carry_the_deltas_then_x_routing_usage_and_done(faked: Any) -> None:
    client, parts = faked()
    query_text = MESSAGES[-1]["content"]
    _on_publish(parts, _deltas("x", ["answer ", "to ", query_text]))
    reply = client.post(CHAT, json=LIVE)
    assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
    events = _events(reply.get_data(as_text=True))
    assert events[-1] == "[DONE]"
    contents = [e["choices"][0]["delta"].get("content") for e in events[:-2]]
    assert contents[0] == "" and contents[1:4] == ["answer ", "to ", query_text]
    assert events[-3]["x_routing"]["analysis_id"] and events[-2]["usage"]["total_tokens"] > 0
    assert "".join(c or "" for c in contents) == f"answer to {query_text}"


def test_a_cut_after_text_was_sent_ends_with_an_error_never_done(faked: Any) -> None:
    client, parts = faked()
    cut = _deltas("x", ["Half ", "an "])[:-1] + [
        AnswerDelta(analysis_id="x", query_id="x", part="failed", attempt_id="x:1",
                    attempt_number=1, error_kind="stream_truncated"),
        AnswerDelta(analysis_id="x", query_id="x", part="text", attempt_id="x:2",
                    attempt_number=2, sequence=1, text="Whole answer."),
    ]
    _on_publish(parts, cut, result="Whole answer.")
    events = _events(client.post(CHAT, json=LIVE).get_data(as_text=True))
    assert "[DONE]" not in events and events[-1]["error"]["code"] == "stream_cut"
    assert not any(e.get("choices") and e["choices"][0]["finish_reason"] for e in events[:-1])


def test_auto_the_default_streams_live_and_buffered_waits_for_the_answer(faked: Any) -> None:
    client, parts = faked()
    query_text = MESSAGES[-1]["content"]
    _on_publish(parts, _deltas("x", ["answer ", "to ", query_text]))
    body = {**LIVE}
    del body["x_stream_mode"]
    events = _events(client.post(CHAT, json=body).get_data(as_text=True))
    contents = [e["choices"][0]["delta"].get("content") for e in events[:-3]]
    assert contents == ["", "answer ", "to ", query_text] and events[-1] == "[DONE]"
    buffered = {**LIVE, "x_stream_mode": "buffered"}
    events = _events(client.post(CHAT, json=buffered).get_data(as_text=True))
    assert events[-1] == "[DONE]" and len(parts.publisher.published) == 2
